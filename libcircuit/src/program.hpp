// program.hpp — a libcircuit program as a small 9P file server: its
// goroutines/ and files/ (program_tree.hpp), served on a Unix socket of its
// own by a thread of its own, with the same core and 9P server as the
// daemon's. A program that runs in a worker asks its daemon to show them
// under its worker directory (worker ctl `serve SOCKET`, circuit(4)).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "program_tree.hpp"

namespace circuit {
class runtime;
}

namespace circuit::detail {

class program {
 public:
  static program& get();  // one per process; it lives until the process ends

  // Starts serving (once) and, in a worker ($CIRCUIT_WORKER), asks the
  // daemon through `rt` to show the tree there. The calling thread becomes
  // the goroutine running `main_fn`.
  void start(runtime& rt, const std::string& main_fn);
  // files/NAME (throws circuit::exception with words when refused).
  void serve(served_file f);

  runtime* runtime_of();
  std::string host();

 private:
  struct impl;
  std::mutex mu_;
  impl* impl_ = nullptr;  // made once, never freed: its thread runs to the end
};

}  // namespace circuit::detail
