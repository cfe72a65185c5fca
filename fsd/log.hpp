// log.hpp — the daemon's log: one timestamped line per event on stderr.
#pragma once

#include <cstddef>
#include <string_view>

#include "circuit/core/error.hpp"

namespace circuit::fsd {

// Longer lines are cut, with their original length (cut_text, error.hpp).
// Twice an error text's bound, so that "error: MESSAGE" is never cut again.
inline constexpr std::size_t max_log_line = 2 * max_error_text;

void set_log_name(std::string_view name);
void log_line(std::string_view line);

}  // namespace circuit::fsd
