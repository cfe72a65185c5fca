// main.cpp — libcircuit_test's main: a Catch2 run, or, in a worker that
// spawn_test started from this program, the spawned function (the runtime
// runs it and exits; Catch2 must not see its arguments).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <circuit/circuit.hpp>

#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--circuit-run") == 0) circuit::runtime rt(argc, argv);
  return Catch::Session().run(argc, argv);
}
