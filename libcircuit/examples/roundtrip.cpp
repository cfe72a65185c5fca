// roundtrip.cpp — the Go Circuit's first program, in C++: a function runs
// in a new worker on another host and answers on a channel of this one.
//
//   roundtrip h2        # prints "Roundtrip complete."
#include <circuit/circuit.hpp>

#include <cstdio>

void ping(circuit::chan<int> feedback) { feedback.send(1); }
CIRCUIT_REGISTER(ping);

int main(int argc, char** argv) {
  circuit::runtime rt(argc, argv);  // in a spawned worker: runs the function, never returns
  auto feedback = rt.make_chan<int>("feedback");
  rt.spawn(argc > 1 ? argv[1] : "h2", ping, feedback);  // a new worker on h2 runs ping(feedback)
  feedback.recv();
  std::puts("Roundtrip complete.");
}
