// errno_map.hpp — the one table from errc to errno, at the FUSE edge.
#pragma once

#include "circuit/core/error.hpp"

namespace circuit::fsd {

int to_errno(errc code);

}  // namespace circuit::fsd
