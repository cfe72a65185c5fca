// errno_map.hpp — the one table between errc and errno, for every edge:
// the FUSE face replies with errno, and 9P2000.L carries errno in Rlerror
// both ways (a client turns a server's errno back into an errc).
#pragma once

#include "circuit/core/error.hpp"

namespace circuit {

int to_errno(errc code);
// The code for an errno that arrived on the wire; errc::io for one that
// has no code of its own.
errc from_errno(int no);

}  // namespace circuit
