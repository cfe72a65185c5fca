// proc_exit.hpp — how a process that closes a file is ending, from /proc.
#pragma once

#include <sys/types.h>

namespace circuit::fsd {

// Whether process `pid` is dying of a signal (false when it cannot tell).
bool dying_of_signal(pid_t pid);

}  // namespace circuit::fsd
