// remote.hpp — a subtree of the namespace served by another 9P server
// (DESIGN.md §1: the cluster's other hosts, a libcircuit program's files).
//
// A directory of the tree may be a mount point (dir::served_by): a walk
// that reaches it goes on in a `remote`, which serves everything below it
// through a 9P client session of its own (runtime/wire: wire::mount). The
// session (session.hpp) keeps, for each fid below a mount point, the
// remote and the remote's fid, and hands every request on it over: the
// same requests, with the same caller, as the ones it serves itself.
//
// The caller travels with each request: the remote attaches once per uid
// and caller session (caller::session_key; as root, 9P's n_uname), and
// the server applies its access rules to that uid and keeps that
// session's `error` words apart from every other's. A fid is its
// walker's: a walk from a fid another uid or session walked starts again
// from the walker's own attach, down the same path, so one caller's fid
// never carries another's requests (a face that keeps a fid per inode, as
// the FUSE face does, shares them between callers). Every request that
// does not wait by nature (walk, getattr, readdir, mkdir, remove, clunk)
// has a deadline: a server that does not answer fails it with
// errc::timed_out, never a hang. Opens, reads and writes may wait as long
// as the server's file does (a receive).
//
// Inode numbers: the remote gives each file it serves a number of the
// local tree's (remote_ino_bit set), the same for as long as it lives.
//
// ".." from a mount point's top stays there (the remote's root is its own
// parent), as in a Plan 9 mount.
//
// Thread safety: the loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "circuit/core/namespace.hpp"
#include "circuit/core/op.hpp"

namespace circuit {

// Inode numbers of files served by a remote have this bit.
inline constexpr std::uint64_t remote_ino_bit = std::uint64_t{1} << 62;

// What the caller of a walk needs of the names it reaches: their qids
// (a 9P client's Rwalk), or also the last one's attributes in full (owner,
// mode, size: the kernel's lookup), which cost a remote a getattr sent
// behind the walk.
enum class walk_needs { qids, attributes };

// A walk's result: the attributes of the names walked, and the remote fid
// made when all of them were (none when it stopped short).
struct remote_walk {
  std::vector<attr> walked;
  std::optional<std::uint32_t> fid;
};

class remote {
 public:
  virtual ~remote() = default;

  // Whom it serves, for messages ("h2 at /run/circuit/h2.sock").
  virtual std::string name() const = 0;
  // Whether its connection is up: an error of a request when it is says
  // what the server answered (which may be EHOSTUNREACH about a host past
  // it), not that the connection failed.
  virtual bool connected() const { return true; }
  // Whether a write-only open written through is aborted there as soon
  // as a holder dies of a signal (session::abort), as another member's
  // channel send is aborted on its own mount; else only its clunk aborts
  // it (a program's files, which say nothing of dying holders).
  virtual bool aborts_at_death() const { return false; }
  // Walks `names` from remote fid `from`, or from the top of the subtree
  // for `who` when `from` is empty; the attributes of the last name in
  // full only when `needs` asks for them (attr_of a qid otherwise).
  virtual void walk(const caller& who, std::optional<std::uint32_t> from,
                    std::vector<std::string> names, walk_needs needs, op_ptr<remote_walk> done) = 0;
  virtual void getattr(std::uint32_t fid, op_ptr<attr> done) = 0;
  virtual void lopen(std::uint32_t fid, int flags, op_ptr<attr> done) = 0;
  virtual void readdir(std::uint32_t fid, std::uint64_t index, op_ptr<std::vector<dir_entry>> done) = 0;
  virtual void read(std::uint32_t fid, std::uint64_t off, std::size_t count, op_ptr<std::string> done) = 0;
  virtual void write(std::uint32_t fid, std::uint64_t off, std::string data, op_ptr<std::size_t> done) = 0;
  virtual void fsync(std::uint32_t fid, op_ptr<void> done) = 0;
  // The ends of a remote fid: clunk commits, remove aborts an open file
  // (or removes an element's directory); the fid is gone either way.
  virtual void clunk(std::uint32_t fid, op_ptr<void> done) = 0;
  virtual void remove(std::uint32_t fid, op_ptr<void> done) = 0;
  // Made or removed as `who` (the element's maker is who makes it), even
  // when `dfid` was walked by another uid.
  virtual void mkdir(const caller& who, std::uint32_t dfid, std::string name, op_ptr<attr> done) = 0;
  virtual void unlinkat(const caller& who, std::uint32_t dfid, std::string name, bool dir,
                        op_ptr<void> done) = 0;
  // 9P's lcreate: `name` made in the directory `dfid`, and `dfid` becomes
  // that file, open with open(2) `flags`. `dfid` must be who's own (a
  // clone walked as who is). A remote that makes no files refuses (EPERM).
  virtual void lcreate(const caller& who, std::uint32_t dfid, std::string name, int flags, mode_t mode,
                       op_ptr<attr> done);
  // A rename, link, symlink or special file (`what`) of `name` in the
  // directory `dfid`, which the namespace refuses: a remote that serves
  // one asks its server, which refuses it with its own words (kept in its
  // `error` file for the caller); one that cannot refuses it here (EPERM).
  virtual void refuse(const caller& who, std::uint32_t dfid, std::string name, std::string what,
                      op_ptr<void> done);

  // Pipelining (circuit-wire(7)). Every request above on a fid it made
  // reaches the server as soon as it is called, after the ones called
  // before it, and the server runs the requests on one fid in that order:
  // so the session hands a remote fid's next request over without waiting
  // for the answer to the one before. A walk may wait before it goes (an
  // attach first, a link to come): right after walk() returns, `promised`
  // gives the fid it will make if it walks every name, when the walk has
  // gone out already; requests on that fid may follow at once (they fail
  // there if the walk does). Empty when the walk waits or was answered.
  virtual std::optional<std::uint32_t> promised() { return std::exchange(promised_, std::nullopt); }

 protected:
  std::optional<std::uint32_t> promised_;
};

}  // namespace circuit
