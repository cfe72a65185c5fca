#include "mountpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace circuit::fsd {

std::string check_mountpoint(const std::string& path) {
  // /dev/fd/N: a privileged parent opened /dev/fuse and mounted it, and
  // handed us descriptor N (libfuse's fuse_session_mount takes it as is).
  // This is how a daemon that may not open /dev/fuse itself is run.
  unsigned fd = 0;
  char rest = 0;
  if (sscanf(path.c_str(), "/dev/fd/%u%c", &fd, &rest) == 1) {
    if (fcntl(static_cast<int>(fd), F_GETFD) < 0) return "mount point " + path + ": descriptor " + std::to_string(fd) + " is not open";
    return {};
  }
  struct stat st {}, up {};
  // Asked of the file system itself, not the kernel's cache: a FUSE
  // daemon killed a moment ago leaves attributes cached for a second.
  struct statx sx {};
  if (statx(AT_FDCWD, path.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) != 0 ||
      stat(path.c_str(), &st) != 0) {
    if (errno == ENOTCONN)
      return "mount point " + path + " is a dead FUSE mount (a daemon died there); run: fusermount3 -u " + path;
    if (errno == ENOENT) return "mount point " + path + " does not exist; create it with: mkdir -p " + path;
    return "mount point " + path + ": " + strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "mount point " + path + " is not a directory";
  std::string parent = path + "/..";
  if (stat(parent.c_str(), &up) == 0 && (up.st_dev != st.st_dev || up.st_ino == st.st_ino))
    return "mount point " + path + " is busy: something is already mounted there (another circuitd?)";
  return {};
}

}  // namespace circuit::fsd
