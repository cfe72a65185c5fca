// keygen.hpp — `circuitd keygen FILE`: writes a new cluster key
// (circuitd(8), KEYS).
#pragma once

namespace circuit::fsd {

// Runs the subcommand; argv[1] is "keygen". Gives the exit status.
int keygen(int argc, char** argv);

}  // namespace circuit::fsd
