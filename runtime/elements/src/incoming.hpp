// incoming.hpp — one binary on its way into the store (bin/): its bytes
// go into a file with no name in the store's directory (O_TMPFILE), in
// order, hashed as they come; the file gets its name only when its
// content is that name (commit). Whatever is not committed leaves nothing
// behind: a file with no name goes with its descriptor.
//
// Where the file system has no O_TMPFILE, the file has a hidden name
// (".incoming.PID.N") that the store removes at its start and the
// destructor removes.
//
// Thread safety: the loop thread (one upload is one open of the file).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "circuit/core/error.hpp"
#include "sha256.hpp"

namespace circuit {

class incoming {
 public:
  // An upload of the binary `name` into the directory `dir_fd`, of at
  // most `max` bytes.
  static result<std::unique_ptr<incoming>> begin(int dir_fd, std::string name, std::uint64_t max);
  ~incoming();
  incoming(const incoming&) = delete;
  incoming& operator=(const incoming&) = delete;

  // Bytes at `off`, which must be where the last ones ended (errc::invalid
  // otherwise: a hash is made in one pass); past `max` the write fails
  // with errc::too_big. Either way nothing of the refused write is kept.
  result<std::size_t> write(std::uint64_t off, std::string_view data);
  // Bytes written so far, from `off` (pread).
  result<std::string> read(std::uint64_t off, std::size_t size) const;
  std::uint64_t size() const { return size_; }
  const std::string& name() const { return name_; }
  // Who opened it: the store counts its bytes against their share.
  uid_t uploader = 0;

  // Whether the bytes so far are the name's: nothing, or errc::io with
  // "bin: content is sha256 X (N bytes), not its name Y".
  result<void> verdict() const;
  // Names the file in `dir_fd` when its content is its name (after
  // fdatasync: a name never stands for bytes a crash lost). A binary of
  // that name there already has the same bytes, and stays.
  result<void> commit(int dir_fd);

 private:
  incoming(int fd, std::string name, std::string hidden, std::uint64_t max)
      : fd_(fd), name_(std::move(name)), hidden_(std::move(hidden)), max_(max) {}

  int fd_;
  std::string name_;
  std::string hidden_;  // the file's name where there is no O_TMPFILE
  int dir_fd_ = -1;     // for hidden_
  std::uint64_t max_;
  std::uint64_t size_ = 0;
  sha256 hash_;
};

// The prefix of the hidden names of uploads where there is no O_TMPFILE.
inline constexpr std::string_view hidden_prefix = ".incoming.";

}  // namespace circuit
