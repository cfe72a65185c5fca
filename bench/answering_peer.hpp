// answering_peer.hpp — the raw floors' other end: a process at the far end
// of a Unix socket pair that answers, in turn and for ever, each exchange
// of its script (it reads `ask` bytes, then writes `answer`), and ends
// when the socket closes. Nothing of circuit in it: the cost of the socket
// and of two processes.
//
//   bench::answering_peer echo({{64, std::string(64, 'x')}});
//   echo.ask(std::string(64, 'x'), 64);   // one raw round trip
//
// Thread safety: one thread asks at a time. It forks: make it before
// threads that hold locks (the child makes system calls only).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace bench {

class answering_peer {
 public:
  struct exchange {
    std::size_t ask;
    std::string answer;
  };
  // With a `poll` window, both ends poll that long before each blocking
  // read, as circuitd and libcircuit do (--spin, CIRCUIT_SPIN).
  explicit answering_peer(std::vector<exchange> script, std::chrono::nanoseconds poll = {});
  ~answering_peer();  // closes its end; the peer reads end of file and exits
  answering_peer(const answering_peer&) = delete;
  answering_peer& operator=(const answering_peer&) = delete;

  // Writes `bytes` and reads an answer of `size` bytes; fails the
  // benchmark if either falls short.
  void ask(const std::string& bytes, std::size_t size);

 private:
  int fd_ = -1;
  std::chrono::nanoseconds poll_;
  pid_t peer_ = 0;
};

}  // namespace bench
