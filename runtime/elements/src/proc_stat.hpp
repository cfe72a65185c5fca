// proc_stat.hpp — what /proc says about a running process.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace circuit {

struct proc_stat {
  std::int64_t rss = 0;  // bytes
  double cpu = 0;        // user + system seconds
  int threads = 0;
  int fds = 0;
};

// Zeros when the process is gone or /proc cannot be read.
proc_stat read_proc_stat(pid_t pid);

}  // namespace circuit
