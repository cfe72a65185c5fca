// mount.hpp — a subtree served by another 9P2000.L server, through a
// client session (remote.hpp's `remote`, over client.hpp).
//
// The side that shows the subtree connects to the server, as a Plan 9
// mount dials the file server: circuitd's `mount SOCKET NAME` (host ctl)
// connects to another daemon's socket and shows its tree at /NAME. The
// server sees one connection, whose peer is the mounting daemon (root), and
// each caller's uid on it: the mount attaches once per uid and caller
// session, as that uid (Tattach n_uname), naming the session in uname, and
// walks that caller's requests from there, so the server's access rules
// judge the caller, not the daemon, and its `error` files keep each
// session's words apart (circuit-wire(7)). An attach that no fid comes
// from any more is clunked once there are many (max_attaches).
//
// Requests that do not wait by nature have a deadline (`deadline`): past
// it they fail with errc::timed_out (ETIMEDOUT) and the client flushes
// them, so `ls` of a server that stopped answering fails, never hangs.
// Opens, reads and writes wait as long as the server's file does.
//
// A cancel (FUSE INTERRUPT, a flush on the wire) flushes the remote
// request; the remote's reply, if it wins, is reported.
//
// The server may be a user's program (a worker's `serve`), read by root:
// what it answers is bounded here. A directory's listing, read whole at
// its open, holds its bytes against `held` (circuitd's --max-memory) and
// has at most max_listing entries; past either its open fails (ENOMEM,
// EFBIG) with words. Inode numbers for qid.paths too wide to carry are
// kept in a table of at most max_mapped_inos; past it they are hashed.
//
// Thread safety: the loop thread (the client's executor).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "circuit/core/budget.hpp"
#include "circuit/core/remote.hpp"
#include "circuit/wire/client.hpp"

namespace circuit::wire {

class mount final : public remote, public std::enable_shared_from_this<mount> {
 public:
  // Past this many attaches, a new one clunks those no fid comes from.
  static constexpr std::size_t max_attaches = 64;
  static constexpr std::size_t max_listing = std::size_t{1} << 20;
  static constexpr std::size_t max_mapped_inos = std::size_t{1} << 20;

  // `cl` has negotiated its version already. `name` is for messages.
  // `top`: the subtree starts there, below the server's root (a cluster
  // member's directory is its host's: {"h2"}); empty, at the root.
  // `held`: the bytes of listings are taken from it (none: unbounded).
  mount(std::shared_ptr<client> cl, std::string name, std::chrono::milliseconds deadline,
        std::vector<std::string> top = {}, budget* held = nullptr);
  ~mount() override;

  std::string name() const override { return name_; }
  void walk(const caller& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
            walk_needs needs, op_ptr<remote_walk> done) override;
  void getattr(std::uint32_t fid, op_ptr<attr> done) override;
  void lopen(std::uint32_t fid, int flags, op_ptr<attr> done) override;
  void readdir(std::uint32_t fid, std::uint64_t index, op_ptr<std::vector<dir_entry>> done) override;
  void read(std::uint32_t fid, std::uint64_t off, std::size_t count, op_ptr<std::string> done) override;
  void write(std::uint32_t fid, std::uint64_t off, std::string data, op_ptr<std::size_t> done) override;
  void fsync(std::uint32_t fid, op_ptr<void> done) override;
  void clunk(std::uint32_t fid, op_ptr<void> done) override;
  void remove(std::uint32_t fid, op_ptr<void> done) override;
  void mkdir(const caller& who, std::uint32_t dfid, std::string name, op_ptr<attr> done) override;
  void unlinkat(const caller& who, std::uint32_t dfid, std::string name, bool dir, op_ptr<void> done) override;
  void lcreate(const caller& who, std::uint32_t dfid, std::string name, int flags, mode_t mode,
               op_ptr<attr> done) override;
  void refuse(const caller& who, std::uint32_t dfid, std::string name, std::string what,
              op_ptr<void> done) override;

  bool connected() const override { return cl_->connected(); }

 private:
  struct user;  // a uid's attach, for one caller session
  // Whose attach a fid comes from.
  struct walker {
    uid_t uid = 0;
    std::uint64_t session = 0;  // caller::session_key
    bool operator==(const walker&) const = default;
  };
  struct walker_hash {
    std::size_t operator()(const walker& w) const { return std::hash<std::uint64_t>()(w.session * 31 + w.uid); }
  };
  static walker walker_of(const caller& who) { return {who.uid, who.session_key()}; }
  attr attr_of(const rgetattr& g);
  attr attr_of(const qid& q);
  std::uint64_t ino_of(std::uint64_t path);
  // Runs `issue` (which sends one request) with or without the deadline,
  // and makes a cancel of `o` flush that request. With `cancelled` (a
  // read or write, whose reply may have moved bytes), the cancel sets it
  // and `o` completes with the request's answer, not at once.
  template <class T>
  void forward(const op_ptr<T>& o, bool deadline, const std::function<void()>& issue,
               std::shared_ptr<bool> cancelled = nullptr);
  // The part of `data` from `at` on, then the rest (mount::write).
  void write_on(std::uint32_t fid, std::uint64_t off, std::shared_ptr<const std::string> data,
                std::size_t at, op_ptr<std::size_t> done);

  std::shared_ptr<client> cl_;
  std::string name_;
  std::chrono::milliseconds deadline_;
  std::vector<std::string> top_;
  std::unordered_map<walker, std::shared_ptr<user>, walker_hash> users_;
  std::uint16_t id_;  // numbers this mount's inos (ino_of)
  std::unordered_map<std::uint64_t, std::uint64_t> inos_;  // qid.paths over 40 bits -> local ino
  std::uint64_t next_ino_ = 1;
  // Open directories: each one's entries and the bytes taken for them.
  struct listing {
    std::vector<dir_entry> entries;
    std::size_t bytes = 0;
  };
  std::unordered_map<std::uint32_t, listing> listings_;
  budget* held_;
  void read_listing(std::uint32_t fid, attr a, op_ptr<attr> done);  // mount_listing.cpp
  void drop_listing(std::uint32_t fid);
  // Opens a cancel completed while the server's reply was on its way; a
  // reply that opened the file after all is undone at the fid's clunk
  // (remove: a message it took goes back).
  std::unordered_set<std::uint32_t> undone_;
  // Fids whose open (or create) is out, with its op; the clunks of those
  // whose open a cancel completed, held until its answer says what the
  // clunk must do.
  std::unordered_map<std::uint32_t, op_ptr<attr>> opening_;
  std::unordered_map<std::uint32_t, op_ptr<void>> clunk_after_open_;
  void opened_late(std::uint32_t fid, bool opened);
  // Fids whose walk is in flight, and those of them opened behind it
  // (pipelined): a cancelled walk leaves those to its client's session.
  std::unordered_set<std::uint32_t> walking_, opened_early_;
  // Each fid's walker and its path from the walker's attach (remote.hpp:
  // a fid is its walker's; another caller walks the path again from its
  // own).
  struct walked {
    walker by;
    std::vector<std::string> path;
  };
  std::unordered_map<std::uint32_t, walked> walked_;
  // walked_'s entry of `fid` made or gone, counted in its walker's user.
  void walked_from(std::uint32_t fid, walked w);
  void forget(std::uint32_t fid);
  void clunk_idle_attaches();
  std::shared_ptr<user> attach(uid_t uid, const walker& me);
  error attach_error(const error& e, uid_t uid) const;
  // `then(fid)` on a fid of who's for `dfid` (dfid itself, or a clone
  // walked as who, clunked after), or `fail` with the walk's error.
  void as_walker(const caller& who, std::uint32_t dfid, std::function<void(std::uint32_t)> then,
                 std::function<void(error)> fail);
};

}  // namespace circuit::wire
