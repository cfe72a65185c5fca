// flags.hpp — circuitd's command line. Every flag is in the table in
// flags.cpp, which also writes --help.
#pragma once

#include <cstddef>
#include <string>

namespace circuit::fsd {

struct flags {
  std::string name;                     // --name, default: the hostname
  std::string mount = "/circuit";       // --mount
  std::size_t max_message = 64u << 20;  // --max-message
  double grace = 5;                     // --grace: seconds from TERM to KILL
  bool keep_workers = false;            // --keep-workers
  bool debug = false;                   // --debug: libfuse traces every request
  bool help = false;
  bool version = false;
};

// Parses argv; on a bad flag returns false and sets `why`.
bool parse_flags(int argc, char** argv, flags& out, std::string& why);
std::string usage();

}  // namespace circuit::fsd
