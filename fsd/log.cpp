#include "log.hpp"

#include <sys/time.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

#include "circuit/core/error.hpp"

namespace circuit::fsd {
namespace {
std::string log_name = "circuitd";
}

void set_log_name(std::string_view name) { log_name = "circuitd[" + std::string(name) + "]"; }

void log_line(std::string_view line) {
  // A line may quote what callers sent: cut it (as error texts are), so a
  // huge value cannot fill the disk.
  std::string cut;
  if (line.size() > max_log_line) {
    cut = cut_text(std::string(line), max_log_line);
    line = cut;
  }
  // One event, one line: a control character a caller put in a name it
  // gave (a socket's path, say) is shown, never obeyed, so nobody can
  // write a line that looks like the daemon's.
  std::string shown;
  if (std::any_of(line.begin(), line.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    for (unsigned char c : line) {
      if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        shown += buf;
      } else {
        shown += static_cast<char>(c);
      }
    }
    line = shown;
  }
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
  fprintf(stderr, "%s.%03ld %s: %.*s\n", stamp, static_cast<long>(tv.tv_usec / 1000),
          log_name.c_str(), static_cast<int>(line.size()), line.data());
}

}  // namespace circuit::fsd
