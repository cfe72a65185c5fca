// mountpoint.hpp — whether a directory can take circuit's mount.
#pragma once

#include <string>

namespace circuit::fsd {

// Says why `path` cannot be used as a mount point (missing, not a
// directory, a dead or a live mount there), or nothing.
std::string check_mountpoint(const std::string& path);

}  // namespace circuit::fsd
