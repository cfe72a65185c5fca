#include "log.hpp"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace circuit::fsd {
namespace {
std::string log_name = "circuitd";
}

void set_log_name(std::string_view name) { log_name = "circuitd[" + std::string(name) + "]"; }

void log_line(std::string_view line) {
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
