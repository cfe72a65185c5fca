// namespace.hpp — the one namespace every face serves (DESIGN.md §1).
//
// `ns` holds the tree and serves the 9P set of operations addressed by
// inode number: lookup (walk), getattr (stat), list (readdir), open, read,
// write, flush, release, mkdir, rmdir, and create and unlink of the files a
// directory makes (bin/'s binaries; dir.hpp, made_file); cancel is the
// op's own cancel(). The FUSE face translates kernel requests into these
// calls; the socket and peer faces do the same with the wire protocol.
//
// Errors of refused calls are kept per directory and per caller session and
// are what that directory's `error` file reads; they also go to the log.
//
// Thread safety: belongs to the loop thread; nothing here locks.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "circuit/core/budget.hpp"
#include "circuit/core/clock.hpp"
#include "circuit/core/dir.hpp"
#include "circuit/core/event_log.hpp"

struct uv_loop_s;  // libuv's loop; only worker.cpp includes <uv.h>

namespace circuit {


struct config {
  std::string host = "local";           // this host's name (--name)
  std::string address = "-";            // where peers reach it (none yet)
  // The `members` file's text, one line per member (name id address
  // state), from the cluster's membership; unset: this host alone.
  std::function<std::string()> members;
  std::string socket;                   // the Unix socket serving 9P2000.L, if any (--socket)
  std::size_t max_message = 64u << 20;  // bytes in one channel message
  std::size_t max_memory = std::size_t{1} << 30;  // message and stdin bytes held, daemon-wide
  // Fids (walked files) one uid other than root holds at once, over all
  // sessions (--max-fids): about 200 bytes each.
  std::size_t max_fids = std::size_t{1} << 18;
  // Elements (channels, workers, selections: what mkdir makes) one uid
  // other than root has made and not yet removed (--max-elements): about
  // 700 bytes each, more once used.
  std::size_t max_elements = std::size_t{1} << 16;
  // The binary store, bin/ (--store): its directory (empty: none), the
  // bytes it keeps before it evicts binaries nobody uses (--store-bound),
  // and the largest binary it takes (--store-max-binary).
  std::string store;
  std::uint64_t store_bound = std::uint64_t{4} << 30;
  std::uint64_t store_max_binary = std::uint64_t{1} << 30;
  std::function<void(std::string_view)> log;  // one line, no newline
  // Log also routine refusals: the EAGAIN of a try-operation, which a
  // polling client repeats at will (--debug).
  bool log_routine = false;
  std::function<void()> stop;                 // host ctl "stop"
  // Host ctl "mount SOCKET NAME": show at /NAME the tree of the 9P server
  // at SOCKET (the face connects; remote.hpp). Unset: mounts are refused.
  std::function<result<void>(const std::string& socket, const std::string& name)> mount;
  // Connects to the 9P server at SOCKET, through the path `via` (the same
  // socket, held open: /proc/self/fd/N, valid only until dial returns, so
  // it connects before it returns), and gives, over that one connection, a
  // remote for each directory of `tops` below its root, or the failure,
  // later (a worker's `serve`): the loop never waits for the server.
  // Unset: refused.
  using remotes = std::vector<std::shared_ptr<remote>>;
  std::function<void(const std::string& socket, const std::string& via, const std::string& name,
                     std::vector<std::string> tops, std::function<void(result<remotes>)> done)>
      dial;
  // Workers' children are libuv handles on this loop; after touching them
  // the runtime calls uv_kick so the loop owner runs libuv soon.
  ::uv_loop_s* uv = nullptr;
  std::function<void()> uv_kick;
  // The time and the timers (clock.hpp): the daemon's loop clock; without
  // one, the namespace keeps a manual_clock that stands still.
  circuit::clock* clock = nullptr;
  double grace = 5.0;         // seconds between TERM and KILL (ctl stop)
  bool keep_workers = false;  // leave workers running when the daemon stops
  // A cgroup per worker where the host lets the daemon make one; false
  // (--no-cgroups, for tests) uses what a host without cgroups gets: a
  // reaper per worker, the program at `reaper` (circuit-reaper). With
  // neither, a worker's processes are tracked by its process group only.
  bool cgroups = true;
  std::string reaper;
  // The descriptor limit (RLIMIT_NOFILE, soft and hard) workers start
  // with: what circuitd was started with, before it raised its own soft
  // limit to the hard one. 0: as the daemon's.
  std::uint64_t worker_nofile_soft = 0, worker_nofile_hard = 0;
  // An entry appeared in or left directory `parent_ino` (an element made
  // or removed): faces with caches drop what they cached of it.
  std::function<void(std::uint64_t parent_ino, const std::string& name)> entry_changed;
  // What a face cached below directory `dir_ino` (it stays) is stale: the
  // entries in it go, the directory's own entry stays (a shell whose
  // working directory it is keeps it).
  std::function<void(std::uint64_t dir_ino)> entries_below_changed;
  // Who may use the namespace (access.hpp): root, the daemon's user, and
  // the members of allow_group (--allow-group) when it is set.
  principal daemon{::geteuid(), ::getegid(), {}};
  std::optional<gid_t> allow_group;
};

// A file's or directory's attributes, as stat(2) shows them and as the
// permission check (access.hpp) reads them.
struct attr {
  std::uint64_t ino = 0;
  bool is_dir = false;
  mode_t perm = 0;  // permission bits: 0440, 0200, 0750, 01770 (sticky) ...
  uid_t uid = 0;    // the element's maker
  gid_t gid = 0;    // the allowed group; without one, the maker's group
  // Bytes of a file made by create(2) (a stored binary); control files
  // say 0, as their size means nothing.
  std::uint64_t size = 0;
};

struct dir_entry {
  std::string name;
  attr a;
};


// An open file as the namespace sees it: the handle and where it lives.
struct open_file {
  handle_ptr h;
  std::uint64_t dir_id = 0;
  std::string path;  // for messages
  int flags = 0;     // of the open(2)
};

class ns {
 public:
  // `plant` makes the tree's root (the elements module's make_tree).
  ns(config cfg, const std::function<std::shared_ptr<dir>(ns&)>& plant);
  ~ns();
  ns(const ns&) = delete;
  ns& operator=(const ns&) = delete;

  static constexpr std::uint64_t root_ino = std::uint64_t{1} << file_bits;

  // Every operation first admits the caller (access.hpp): anyone else gets
  // errc::access, and nothing is recorded for them.
  result<attr> lookup(const caller& who, std::uint64_t parent, std::string_view name);
  result<attr> getattr(const caller& who, std::uint64_t ino);
  result<std::vector<dir_entry>> list(const caller& who, std::uint64_t ino);
  // The remote serving what is below the directory `ino`, if it is a
  // mount point (remote.hpp).
  std::shared_ptr<remote> mount_at(std::uint64_t ino) const;
  // Whether `who` may open `ino` for `mask` (R_OK, W_OK, X_OK): access(2).
  result<void> access(const caller& who, std::uint64_t ino, int mask);
  result<attr> mkdir(const caller& who, std::uint64_t parent, std::string_view name);
  result<void> rmdir(const caller& who, std::uint64_t parent, std::string_view name);
  // rmdir of the directory `ino` itself (9P's remove of a directory's fid).
  result<void> rmdir(const caller& who, std::uint64_t ino);

  // Completes with a new open_file owned by the caller, who gives it back
  // through release().
  void open(std::uint64_t ino, const open_args& args, op_ptr<open_file*> done);
  // create(2) of `name` in directory `parent` (dir::create): the new
  // file's attributes, and the file open for writing with args.flags,
  // owned by the caller as open's. The directory must let the caller
  // write and search it; O_EXCL fails with errc::exists when the name is
  // there.
  struct created {
    attr a;
    open_file* f = nullptr;
  };
  void create(std::uint64_t parent, std::string_view name, const open_args& args, op_ptr<created> done);
  // unlink(2) of a file made by create (dir::unlink); the table's files
  // are refused (EPERM), a directory is EISDIR.
  result<void> unlink(const caller& who, std::uint64_t parent, std::string_view name);
  // Reads and writes of a file whose element was removed fail with
  // errc::removed (see handle). A `nonblock` read (O_NONBLOCK) that would
  // wait fails with errc::would_block instead.
  void read(open_file& f, const caller& who, std::uint64_t off, std::size_t size,
            op_ptr<std::string> done) {
    read(f, who, off, size, false, std::move(done));
  }
  void read(open_file& f, const caller& who, std::uint64_t off, std::size_t size, bool nonblock,
            op_ptr<std::string> done);
  // The file may keep `data` (handle::write_owned) rather than copy it.
  void write(open_file& f, const caller& who, std::uint64_t off, std::string data,
             op_ptr<std::size_t> done);
  // poll(2): whether a read would be answered at once. When not, and
  // `wake` is given, it is called once when that may have changed.
  bool readable(open_file& f, std::function<void()> wake);
  // The ends of an open (handle, dir.hpp): flush at a holder's close(2);
  // abort instead when that holder is dying of a signal (nothing it was
  // making is committed); fsync commits now; release at the last close.
  result<void> flush(open_file& f, const caller& who);
  void abort(open_file& f, const caller& who);
  bool abortable(const open_file& f) const { return f.h->abortable(); }
  result<void> fsync(open_file& f, const caller& who);
  void release(open_file* f);
  // The two ends of an open as a session has them (session.hpp): commit
  // delivers what the open made and returns the verdict, then releases;
  // drop aborts it (nothing delivered, a taken message goes back), then
  // releases. Either way `f` is gone.
  result<void> commit(open_file* f, const caller& who);
  void drop(open_file* f, const caller& who);
  // Drops a file whose open never reached its caller: no close semantics
  // run (a send delivers nothing, a taken message goes back).
  std::size_t open_files() const { return open_.size(); }  // opened, not yet released
  // What the sessions (session.hpp) hold, for the host's stat: each keeps
  // these counts up to date.
  std::size_t sessions() const { return sessions_; }
  std::size_t fids() const { return fids_; }
  std::size_t requests() const { return requests_; }
  void count_sessions(long d) { sessions_ += d; }
  // Fids are counted by the uid whose walk or attach made them: a user
  // other than root may hold cfg().max_fids at once, so one who walks
  // without end cannot take the daemon's memory.
  result<void> may_take_fid(const principal& who) const;
  void count_fid(uid_t uid, long d);
  // Elements are counted by the uid whose mkdir made them, until they are
  // destroyed: a user other than root may have cfg().max_elements, so one
  // who makes directories without end cannot take the daemon's memory.
  result<void> may_make(const principal& who, const dir& in) const;
  void count_element(uid_t uid, long d);
  void count_requests(long d) { requests_ += d; }
  void abandon(open_file* f) {
    open_.erase(f);
    delete f;
  }
  // Operations the tree does not have (rename): the error, recorded for
  // the caller.
  error refuse(const caller& who, std::uint64_t parent, std::string_view name,
               std::string_view what);

  // Per-session error messages of one directory (of the nearest one
  // still there, when it was removed).
  // `logged`: the caller has logged it already (an abort says so itself).
  void record(std::uint64_t dir_id, const caller& who, const error& e, bool logged = false);
  // The same, for the directory of inode `ino` (a walk's last local step;
  // for a mount point, the directory that holds it).
  void record_in(std::uint64_t ino, const caller& who, const error& e);
  std::string last_error(std::uint64_t dir_id, const caller& who) const;

  // Directory registry: ids are never reused.
  std::uint64_t enroll(dir* d);
  void forget(std::uint64_t id);
  dir* find(std::uint64_t id) const;
  // Ids of files made by create(2) (dir.hpp, made_file), from the same
  // count: never reused. A directory forgets the ids of its files as they
  // go, and of all of them when it goes.
  std::uint64_t enroll_file(const dir& d);
  void forget_file(std::uint64_t id);

  const config& cfg() const { return cfg_; }
  config& cfg() { return cfg_; }
  event_log& events() { return events_; }
  budget& memory() { return memory_; }  // message and stdin bytes (budget.hpp)
  circuit::clock& clock() { return cfg_.clock ? *cfg_.clock : own_clock_; }
  dir& top() { return *root_; }
  void log(std::string_view line) const;
  void entry_changed(const dir& parent, const std::string& name) const;
  void entries_below_changed(const dir& d) const;
  void stop();  // retire every element: parked requests complete

 private:
  struct where {
    dir* d = nullptr;
    unsigned index = 0;
    std::optional<made_file> made;  // index == made_index
  };
  result<where> resolve(std::uint64_t ino) const;
  // The error for a call on `f` whose element was removed, or nothing.
  std::optional<error> gone(const open_file& f, bool writing) const;
  attr attr_of(const dir& d, unsigned index) const;
  attr attr_of(const dir& d, const made_file& f) const;
  attr attr_of(const where& w) const;
  // The file's name for messages ("help", a table row's, a made file's).
  std::string name_of(const where& w) const;
  std::optional<attr> entry(dir& d, std::string_view name) const;
  result<void> may_remove(const caller& who, dir& parent, std::string_view name) const;
  // Starts an element's open through `start` and completes `done` with
  // the open file, or records the element's refusal.
  void open_through(std::uint64_t dir_id, const open_args& args, std::string path, op_ptr<open_file*> done,
                    const std::function<void(op_ptr<handle_ptr>)>& start);

  config cfg_;
  manual_clock own_clock_;
  event_log events_;
  budget memory_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
  struct enrolled {
    dir* d;
    std::uint64_t parent;  // its parent's id; 0 for the root
  };
  std::unordered_map<std::uint64_t, enrolled> dirs_;
  // Directories removed, and their parents' ids (the newest, bounded): an
  // error met through a file a removed element left open is recorded in
  // its nearest directory still there, whose error file can be read.
  std::unordered_map<std::uint64_t, std::uint64_t> gone_parent_;
  std::deque<std::uint64_t> gone_order_;
  std::unordered_map<std::uint64_t, std::uint64_t> made_;  // made file id -> its directory's id
  // (dir id, session, uid) -> message; oldest evicted past a bound. The
  // uid too: two users in one Unix session (su, sudo) never read each
  // other's words.
  using error_key = std::tuple<std::uint64_t, std::uint64_t, uid_t>;
  std::map<error_key, std::string> errors_;
  std::deque<error_key> error_order_;
  // Files open now; those the kernel still holds when the daemon stops are
  // dropped at destruction, as never closed.
  std::unordered_set<open_file*> open_;
  std::size_t sessions_ = 0, fids_ = 0, requests_ = 0;
  std::unordered_map<uid_t, std::size_t> fids_of_;  // by uid, those holding any
  std::unordered_map<uid_t, std::size_t> elements_of_;  // by uid, those with any
  std::shared_ptr<dir> root_;
};

}  // namespace circuit
