// bin.hpp — /<host>/bin/, this host's binary store (issue 9): executables
// named by their sha256, so that a worker spec can name a program by its
// content ("binary": SHA) and libcircuit can ship a program to a host once.
//
//  - create(2) of SHA streams a binary in (incoming.hpp): writes must come
//    in order, at most --store-max-binary bytes; fsync(2), and every
//    close(2) after a write, gives the verdict (EIO when the bytes are not
//    the name's, the words in `error`); the last close names the file when
//    they are, and keeps nothing when not. A holder killed by a signal
//    mid-stream keeps nothing. A binary there already may be written again
//    (cp again): checked the same way; the one there stays.
//  - The name is listed and stat(2) shows its size from its create on;
//    reads give the bytes once stored (EBUSY while it is being written).
//  - A worker started from a binary (use) counts as its user while its
//    processes live; last_use is when it was last stored or started (kept
//    as the file's mtime, so it outlives a restart).
//  - Past --store-bound bytes, binaries nobody uses or writes go, least
//    recently used first, never the one just stored. The uploads under
//    way together hold at most --store-bound bytes too: a write past it
//    fails with ENOSPC (room), so the store's disk use stays below twice
//    the bound whoever holds uploads open. A user other than root holds
//    at most half of it (EDQUOT past that), so one who holds uploads open
//    and never finishes them cannot keep the others' binaries out.
//  - unlink(2) removes one: its owner (who stored it first), the daemon's
//    user or root; EBUSY while a worker uses it.
//
// On disk: the directory --store (made 0711 at the first binary when it
// is not there: nobody lists it, and a worker running as its maker
// executes by path), files 0511.
//
// Thread safety: the loop thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "circuit/core/dir.hpp"

namespace circuit {

class incoming;
class bin;

// A worker's hold on the binary it was started from: the binary counts it
// as a user (and is not evicted) until the hold is let go or destroyed.
class bin_use {
 public:
  bin_use() = default;
  bin_use(std::weak_ptr<bin> store, std::string name, std::string path);
  ~bin_use() { release(); }
  bin_use(bin_use&& o) noexcept { *this = std::move(o); }
  bin_use& operator=(bin_use&& o) noexcept;

  const std::string& path() const { return path_; }  // the file to execute
  void release();

 private:
  std::weak_ptr<bin> store_;
  std::string name_, path_;
};

class bin final : public dir {
 public:
  // One stored binary, or one being written for the first time.
  struct entry {
    std::uint64_t id = 0;  // ns::enroll_file's
    uid_t owner = 0;       // who made it first
    bool stored = false;
    std::uint64_t size = 0;  // stored; or the most written so far
    std::size_t users = 0;   // live workers started from it
    std::size_t writers = 0;  // uploads of it under way
    std::int64_t last_use = 0;  // unix seconds
    std::uint64_t recency = 0;  // orders uses within a second (0: before the start)
  };

  bin(ns& space, dir* parent);
  ~bin() override;

  std::span<const file_entry> files() const override;
  std::string_view about() const override;
  std::string_view example() const override;
  std::vector<stat_doc> stat_fields() const override;
  // The group may store binaries; only a binary's owner removes it.
  mode_t mode() const override { return 01770; }

  std::vector<made_file> made_files() const override;
  std::optional<made_file> made(std::string_view name) const override;
  std::optional<made_file> made(std::uint64_t id) const override;
  void create(const open_args& args, std::string_view name, op_ptr<handle_ptr> done) override;
  void open_made(const made_file& f, const open_args& args, op_ptr<handle_ptr> done) override;
  result<void> unlink(const caller& who, std::string_view name) override;
  std::string_view refusal() const override {
    return "holds binaries named by their sha256: cp FILE stores one, rm removes one; they are not "
           "renamed or "
           "linked (see help)";
  }

  // The stored binary `name`, for a worker to run: its path, and a hold
  // that counts the worker a user. ENOENT when it is not stored here.
  result<bin_use> use(std::string_view name);

  // For the handles (bin_files.cpp).
  result<std::unique_ptr<incoming>> begin(const caller& who, std::string_view name);
  // Whether the upload `in` may take `bytes` more: the uploads under way
  // together hold at most --store-bound (errc::no_space past it, in
  // words), so holding many open cannot fill the disk; those of one user
  // other than root at most half of it (errc::over_quota).
  result<void> room(const incoming& in, std::size_t bytes) const;
  // The upload `in` took `bytes` more.
  void wrote(const incoming& in, std::size_t bytes);
  // An upload's end: committed when `keep` and its content is its name;
  // the reason it was not goes to `who`'s error file, and is returned. No `who`: an open
  // dropped as the daemon ends (nothing is told to anyone).
  result<void> end(std::unique_ptr<incoming> in, bool keep, const caller* who);

  const std::map<std::string, entry, std::less<>>& entries() const { return entries_; }
  std::string stat() const;
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t uploading() const { return uploading_; }
  std::uint64_t stored_count() const { return stored_count_; }
  std::uint64_t evicted() const { return evicted_; }
  std::uint64_t received() const { return received_; }
  const std::string& where() const { return where_; }

 private:
  friend class bin_use;
  void let_go(const std::string& name);
  void open_store();
  void evict(const std::string& keep);
  void forget(std::map<std::string, entry, std::less<>>::iterator it);
  made_file file_of(const std::string& name, const entry& e) const;
  std::int64_t now() const;
  // Opens the store when it is not yet: the error says why it cannot be.
  result<void> usable();

  std::string where_;              // the directory on disk (--store)
  int dir_fd_ = -1;
  std::optional<error> broken_;    // why the store cannot be used
  std::map<std::string, entry, std::less<>> entries_;
  std::unordered_map<std::uint64_t, std::string> by_id_;
  std::uint64_t bytes_ = 0;        // of the stored binaries
  std::uint64_t uploading_ = 0;    // written by the uploads under way
  std::map<uid_t, std::uint64_t> uploading_by_;  // the same by uploader, without those at 0
  std::uint64_t stored_count_ = 0, evicted_ = 0, received_ = 0;
  std::uint64_t uses_ = 0;         // counts uses and stores: entry::recency
  void used(entry& e);
};

}  // namespace circuit
