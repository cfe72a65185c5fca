#include "log.hpp"

#include <sys/time.h>

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
