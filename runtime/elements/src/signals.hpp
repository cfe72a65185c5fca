// signals.hpp — signal names and numbers, both ways ("TERM", "SIGTERM",
// "term" and "15" all parse to SIGTERM).
#pragma once

#include <string>
#include <string_view>

#include "circuit/core/error.hpp"

namespace circuit {

result<int> parse_signal(std::string_view text);
std::string signal_name(int sig);  // "TERM"; a number for unnamed ones

}  // namespace circuit
