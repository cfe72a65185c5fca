#include "proc_exit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace circuit::fsd {

// Whether process `pid` is dying of a signal: the kernel sets a task's
// exit_code (field 52 of /proc/PID/stat) before it closes the task's
// files, so the FLUSH of a killed holder comes with a signal in it, and
// that of exit(2) with none. Field 2 is "(comm)", which may hold spaces
// and parentheses: fields are counted after its last ')'.
bool dying_of_signal(pid_t pid) {
  if (pid <= 0) return false;
  char path[32];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[2048];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  if (!p) return false;
  // After ") " comes field 3; field 52 is 49 fields further.
  ++p;
  for (int field = 2; field < 52; ++field) {
    p = strchr(p, ' ');
    if (!p) return false;
    ++p;
  }
  int exit_code = atoi(p);
  return (exit_code & 0x7f) != 0;
}

}  // namespace circuit::fsd
