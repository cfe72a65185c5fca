// spec.hpp — what a worker runs: the JSON written to workers/NAME/spec.
//
// {"path": "/bin/ls", "args": ["-l"], "env": ["K=V"], "dir": "/tmp"}
// Either `path` or `binary` is required, not both: `binary` names a
// binary of the host's store (bin/) by its sha256, which the worker runs
// (its path is then the store's file). Fields are a table (spec.cpp): each row names a
// field, its JSON type and where it goes, so a new field is one row.
// Unknown fields, wrong types and missing required fields are refused with
// a message naming the field ("bad spec: ...").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "circuit/core/error.hpp"

namespace circuit {

struct spec {
  std::string path;    // for `binary`: set when the worker starts
  std::string binary;  // a sha256 of bin/, or empty
  std::vector<std::string> args;
  std::optional<std::vector<std::string>> env;  // absent: the daemon's environment
  std::string dir;                              // empty: the daemon's directory
};

inline constexpr std::size_t max_spec_bytes = 256 * 1024;

// Parses and checks a spec. errc::would_block means the text is a valid
// beginning of a JSON document that is not complete yet.
result<spec> parse_spec(std::string_view text);

// Checks what the spec names on this host: the path is an executable file,
// the directory exists.
result<void> check_spec(const spec& s);

// The spec as one JSON line, as reading `spec` returns it.
std::string to_json(const spec& s);

}  // namespace circuit
