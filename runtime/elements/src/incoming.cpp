#include "incoming.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace circuit {
namespace {

// On disk a stored binary is executable by anyone and readable by its
// owner (the daemon's user): workers run as their makers, by path.
constexpr mode_t stored_mode = 0511;

error os_error(const std::string& what, int e) {
  return make_error(errc::io, "bin: " + what + ": " + std::strerror(e));
}

}  // namespace

result<std::unique_ptr<incoming>> incoming::begin(int dir_fd, std::string name, std::uint64_t max) {
  int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  std::string hidden;
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    static std::atomic<unsigned> count{0};
    hidden = std::string(hidden_prefix) + std::to_string(getpid()) + "." + std::to_string(++count);
    fd = openat(dir_fd, hidden.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  }
  if (fd < 0) return os_error("a file for " + name + " in the store", errno);
  std::unique_ptr<incoming> in(new incoming(fd, std::move(name), std::move(hidden), max));
  if (!in->hidden_.empty()) in->dir_fd_ = dir_fd;
  return in;
}

incoming::~incoming() {
  if (fd_ >= 0) ::close(fd_);
  if (!hidden_.empty()) unlinkat(dir_fd_, hidden_.c_str(), 0);
}

result<std::size_t> incoming::write(std::uint64_t off, std::string_view data) {
  if (off != size_)
    return make_error(errc::invalid, "bin: " + name_ + ": writes must be in order: this one is at byte " +
                                         std::to_string(off) + ", the next is at byte " + std::to_string(size_) +
                                         " (a binary is hashed as it comes)");
  if (data.size() > max_ - size_)
    return make_error(errc::too_big, "bin: " + name_ + ": a binary is at most " + std::to_string(max_) +
                                         " bytes (circuitd --store-max-binary)");
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) continue;
    // What part of it went in is past size_: the next write goes over
    // it, and commit cuts the file at size_.
    if (n < 0) return os_error(name_ + ": write", errno);
    done += static_cast<std::size_t>(n);
  }
  hash_.update(data);
  size_ += data.size();
  return data.size();
}

result<std::string> incoming::read(std::uint64_t off, std::size_t size) const {
  if (off >= size_) return std::string();
  std::string out(std::min<std::uint64_t>(size, size_ - off), '\0');
  ssize_t n = pread(fd_, out.data(), out.size(), static_cast<off_t>(off));
  if (n < 0) return os_error(name_ + ": read", errno);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

result<void> incoming::verdict() const {
  std::string got = hash_.hex();
  if (got == name_) return {};
  return make_error(errc::io, "bin: content is sha256 " + got + " (" + std::to_string(size_) +
                                  " bytes), not its name " + name_);
}

result<void> incoming::commit(int dir_fd) {
  if (auto ok = verdict(); !ok) return ok;
  if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) return os_error(name_ + ": truncate", errno);
  if (fchmod(fd_, stored_mode) != 0) return os_error(name_ + ": chmod", errno);
  if (fdatasync(fd_) != 0) return os_error(name_ + ": fdatasync", errno);
  int r;
  if (hidden_.empty()) {
    std::string self = "/proc/self/fd/" + std::to_string(fd_);
    r = linkat(AT_FDCWD, self.c_str(), dir_fd, name_.c_str(), AT_SYMLINK_FOLLOW);
  } else {
    r = linkat(dir_fd_, hidden_.c_str(), dir_fd, name_.c_str(), 0);
  }
  if (r != 0 && errno != EEXIST) return os_error(name_ + ": link into the store", errno);
  return {};
}

}  // namespace circuit
