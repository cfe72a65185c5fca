#include "proc_stat.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace circuit {

proc_stat read_proc_stat(pid_t pid) {
  proc_stat p;
  std::string base = "/proc/" + std::to_string(pid);
  FILE* f = fopen((base + "/stat").c_str(), "r");
  if (!f) return p;
  char line[1024] = {};
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const char* rest = strrchr(line, ')');
  if (!rest) return p;
  unsigned long utime = 0, stime = 0;
  long threads = 0, rss_pages = 0;
  // Fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue
  // starttime vsize rss
  if (sscanf(rest + 2,
             "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld %*d %*u %*u %ld",
             &utime, &stime, &threads, &rss_pages) == 4) {
    double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    p.cpu = (utime + stime) / hz;
    p.threads = static_cast<int>(threads);
    p.rss = rss_pages * sysconf(_SC_PAGESIZE);
  }
  if (DIR* d = opendir((base + "/fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++p.fds;
    closedir(d);
  }
  return p;
}

}  // namespace circuit
