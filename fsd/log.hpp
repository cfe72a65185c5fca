// log.hpp — the daemon's log: one timestamped line per event on stderr.
#pragma once

#include <string_view>

namespace circuit::fsd {

void set_log_name(std::string_view name);
void log_line(std::string_view line);

}  // namespace circuit::fsd
