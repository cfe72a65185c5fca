// program_tree.hpp — the tree a libcircuit program serves over 9P, which
// its daemon shows under the program's worker directory (circuit(4), worker
// ctl `serve`):
//
//   goroutines/          its live goroutines (goroutines.hpp)
//       go               open read-write, write {"fn":NAME,"args":[...]},
//                        read the result (rt.go does this)
//       ID/              stat  stack  ctl (`cancel`)
//   files/               the files of rt.serve(NAME, read, write)
//
// These are directories of the same core as the daemon's (circuit/core),
// with their help and error files; they belong to the server's loop
// thread, and what they call of the program runs there.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "circuit/core/dir.hpp"
#include "loop.hpp"

namespace circuit::detail {

// A file of rt.serve: `read` gives its content at each open; `write`
// takes each write(2) (throwing refuses it, with the exception's words).
struct served_file {
  std::string name;
  std::function<std::string()> read;
  std::function<void(std::string_view)> write;
};

// The root of the tree; `lp` runs it, goroutines start from it, and
// their results reach it there.
std::shared_ptr<dir> make_program_tree(ns& space, loop& lp);
// Called on the loop: the goroutines changed; adds a file to files/.
void refresh_goroutines(ns& space);
result<void> add_served_file(ns& space, served_file f);

}  // namespace circuit::detail
