// inode_table.hpp — the FUSE face's map from the kernel's inodes to the
// fids of its session, as plan9port's 9pfuse keeps one.
//
// The kernel names files by inode and counts its lookups of each; the core
// names them by fid. Every inode the kernel holds a lookup of has one fid
// (walked to it once); the kernel's FORGET takes lookups back, and at none
// the fid is clunked, so the table holds what the kernel holds and no more
// (a lookup of a name that does not exist makes no entry). Opens get fids
// of their own (a walk from the inode's fid, then lopen), which the face
// clunks at RELEASE.
//
// Inode numbers are the core's (qid.path), except the root, which the
// kernel calls 1. Fids are reused once clunked, so they never run out.
//
// Thread safety: the loop thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "circuit/core/session.hpp"

namespace circuit::fsd {

class inode_table {
 public:
  static constexpr fid_t root_fid = 0;

  // A fid no one uses.
  fid_t make_fid();
  // A fid clunked: it may be given again.
  void free_fid(fid_t fid) { free_.push_back(fid); }

  // The fid of an inode the kernel holds, if any.
  std::optional<fid_t> fid_of(std::uint64_t ino) const;
  // A lookup of `name` in directory `parent` (core inodes) reached `ino`
  // through the fresh fid `walked`. Returns the fid to clunk: `walked`
  // when the inode had a fid already (its lookups count one more),
  // nothing when `walked` becomes the inode's fid.
  std::optional<fid_t> looked_up(std::uint64_t ino, fid_t walked, std::uint64_t parent, std::string name);
  // The kernel forgets `n` lookups of `ino`; returns the fid to clunk when
  // none is left.
  std::optional<fid_t> forget(std::uint64_t ino, std::uint64_t n);
  // `ino`, which the kernel holds, is gone where it lives
  // (fuse_fids.hpp: cached_errno): the entry it was first looked up by,
  // for the face to drop, and whether to tell the kernel it is stale:
  // not when it, or a file in it, was said stale to the same process
  // `pid` less than a second ago, so that the kernel's one retry of a walk
  // that cannot go otherwise (from a removed working directory) gets
  // ENOENT, and every other process's walk is retried. A second is how
  // long the kernel keeps an entry of ours (fuse_request.cpp:
  // cache_timeout). Nothing for an inode not held; never to tell unless
  // `may_tell`.
  struct stale {
    std::uint64_t parent;
    std::string name;
    bool tell;
  };
  std::optional<stale> went_stale(std::uint64_t ino, bool may_tell, pid_t pid);

  // The names the kernel holds inodes by in directory `parent` (their
  // first lookups').
  std::vector<std::string> names_in(std::uint64_t parent) const;

  std::size_t size() const { return nodes_.size(); }

 private:
  struct node {
    fid_t fid;
    std::uint64_t lookups;
    std::uint64_t parent = 0;  // the first lookup's directory and name
    std::string name;
    std::chrono::steady_clock::time_point told_stale{};
    pid_t told_pid = 0;
  };
  std::unordered_map<std::uint64_t, node> nodes_;
  std::vector<fid_t> free_;
  fid_t next_ = root_fid + 1;
};

}  // namespace circuit::fsd
