// reaper.hpp — what circuit-reaper tells circuitd: the records it writes on
// its report pipe.
//
// Where the daemon cannot give a worker a cgroup, the worker's process is
// started under a reaper of its own. The daemon starts
//
//   circuit-reaper FD PATH ARG...
//
// (already in the worker's session, with its stdio, ids and directory);
// the reaper makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so
// every orphan below it is reparented to it rather than to init, starts
// PATH with ARGs and the environment it was given, and reaps whatever
// ends below it. It writes records to FD, a pipe whose other end the
// daemon reads:
//
//   started  {pid of the worker's process}        first, once
//   failed   {errno of the exec}                  first, instead of started
//   exited   {si_code, si_status of the process} when the process ends
//
// and exits when nothing is left below it: the daemon's watch on the
// reaper's own exit means "every process of the worker has ended".
// Records are smaller than PIPE_BUF, so each write is whole.
#pragma once

#include <cstdint>

namespace circuit::reaper {

enum class kind : std::int32_t { started = 1, failed = 2, exited = 3 };

struct record {
  kind what;
  std::int32_t a;  // started: pid; failed: errno; exited: si_code
  std::int32_t b;  // exited: si_status
};

// The name of the program, found beside circuitd.
inline constexpr const char* program = "circuit-reaper";

}  // namespace circuit::reaper
