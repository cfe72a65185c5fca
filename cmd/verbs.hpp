// verbs.hpp — what `circuit VERB PATH` does, one function per verb.
#pragma once

#include <string>

#include "circuit/wire/conn.hpp"

namespace circuit::cmd {

using wire::conn;
using wire::split_path;

// Each does its verb on `path` and prints what it prints; the error is
// the failure of the operation, for main to report.
using verb_fn = result<void> (*)(conn& c, const std::string& path);

struct verb {
  const char* name;
  verb_fn run;
  bool many;  // takes several paths (write takes one)
  const char* help;
};

// The table of verbs, ending with a null name.
extern const verb verbs[];

}  // namespace circuit::cmd
