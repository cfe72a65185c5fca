// service.cpp — a program whose functions a shell calls: run in a worker,
// it serves goroutines/ there, and each call written to goroutines/go runs
// a registered function on a thread of its own (a goroutine), which a shell
// lists, inspects and cancels with ls, cat and echo (shell-examples/
// goroutines.sh shows it all; rt.go does the same from C++).
//
//   mkdir /circuit/h1/workers/s
//   echo '{"path":"/path/to/service"}' > /circuit/h1/workers/s/spec
//   exec 3<>/circuit/h1/workers/s/goroutines/go
//   echo '{"fn":"square","args":[7]}' >&3; cat <&3      # {"value":49}
//   echo eof > /circuit/h1/workers/s/ctl                # it ends
//
// It runs until its stdin ends.
#include <circuit/circuit.hpp>
#include <cstdio>
#include <string>

int square(int x) { return x * x; }
CIRCUIT_REGISTER(square);

// Waits for a message on `inbox`, a channel on any host, and returns it.
std::string take(circuit::chan<std::string> inbox) { return inbox.recv(); }
CIRCUIT_REGISTER(take);

int main(int argc, char** argv) {
  circuit::runtime rt(argc, argv);
  while (std::fgetc(stdin) != EOF) {
  }
}
