// keygen.cpp — the keygen subcommand: the cluster key is made here, and
// nowhere else, so that it is always random, 0600, and never written over.
#include "keygen.hpp"

#include <cstdio>
#include <string>

#include "circuit/cluster/key.hpp"

namespace circuit::fsd {

int keygen(int argc, char** argv) {
  if (argc != 3 || argv[2][0] == '-') {
    std::fputs(
        "usage: circuitd keygen FILE\n"
        "writes a new cluster key (256 random bits, mode 0600) to FILE, which must not "
        "exist; copy it to every member and start each with --key FILE\n",
        argc == 3 && std::string(argv[2]) == "--help" ? stdout : stderr);
    return argc == 3 && std::string(argv[2]) == "--help" ? 0 : 2;
  }
  auto r = cluster::write_new_key(argv[2]);
  if (!r) {
    std::fprintf(stderr, "circuitd: keygen: %s\n", r.err().message.c_str());
    return 1;
  }
  std::fprintf(
      stderr,
      "circuitd: keygen: wrote a new cluster key to %s (mode 0600); copy it to every member\n",
      argv[2]);
  return 0;
}

}  // namespace circuit::fsd
