// dir.hpp — directories and files of the namespace, as tables.
//
// Every directory of the tree is a `dir`: an element (a host, a channel) or
// a plain folder (channels/). Its files are a static table of `file_entry`
// rows — name, one line of help, and handlers — in the manner of lib9p: the
// namespace dispatches on the table, and the `help` file is written from
// the same table, so the two cannot drift. Every directory also gets `help`
// and `error` without listing them.
//
// A file is one of two kinds:
//  - text: `read` gives the whole content at open (a snapshot, read at any
//    offset), `write` applies each write(2) at once, and its failure is the
//    failure of that write;
//  - custom: `open` makes a `handle` that serves reads and writes itself,
//    possibly after parking the open (a receive on an empty channel).
//
// Thread safety: all of it belongs to the loop thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "circuit/core/error.hpp"
#include "circuit/core/op.hpp"

namespace circuit {

class ns;
class remote;

// A user as the permission rules see it: ids and supplementary groups.
// Every element records its maker as one (set by the folder that makes it).
struct principal {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as the face gave them
  bool in_group(gid_t g) const;
};

// Who makes a request: a principal, the key of its session, and the
// process that asks when the face knows it. The face gives the key: the
// FUSE face the Unix session id of the calling process (so the shells of
// one terminal share their errors, and two terminals never see each
// other's), the socket face its connection. It keys the per-session
// `error` files; the core never looks it up itself.
//
// Only errors need the key, so a face whose key costs a system call per
// request (getsid(2)) may give `key_of` instead: session_key() calls it
// once, when the key is first needed — while the caller still waits for
// its answer, so its session is the one it asked from.
struct caller : principal {
  std::uint64_t session_key() const {
    if (key_of) key = std::exchange(key_of, nullptr)(pid);
    return key;
  }
  mutable std::uint64_t key = 0;
  mutable std::uint64_t (*key_of)(pid_t) = nullptr;
  pid_t pid = 0;  // 0 when the face does not know (the socket)
  // A caller on another member: the last bytes a read returns may be lost
  // with the link, so what it reads counts as taken only once it says it
  // got them — a read past the end, or a clunk after reading it all.
  bool remote = false;
};

// An open file. Reads and writes may park (a never-ending `events`, a
// worker's stdin that is full); the rest answer at once. Most files write
// at once and override write(); a file whose writes can wait overrides
// write_async() and copies the data, which is only valid during the call.
//
// One open may be held by several processes (dup, fork, exec). Its ends:
//  - flush: a holder closed a descriptor (every close(2), and a holder's
//    exit); the open goes on while other descriptors remain;
//  - abort: a holder is dying of a signal; what the open was making (a
//    message) must not be committed. The face learns it at that holder's
//    flush and calls this instead of flush;
//  - sync: fsync(2); commit now and return the verdict;
//  - release: the last descriptor is gone: commit what is left. Nobody
//    waits for its answer, so every failure must have been reported by an
//    open, a write or a sync before.
//
// Once its element is removed, the namespace fails every read and write
// of the handle with ENOENT without calling it (so nothing acts on, or
// waits for, an element that is gone), unless the handle already holds
// all it will ever give: a received message, a wait's status.
//
// Readiness, for poll(2) and O_NONBLOCK reads: readable_now() says whether
// a read now would be answered at once (with bytes, end of file or an
// error); when it would not, wake_when_readable() arranges one call of
// `wake` when that may have changed. Files that never wait are always
// readable.
class handle {
 public:
  virtual ~handle() = default;
  virtual void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) = 0;
  virtual result<std::size_t> write(const caller& who, std::uint64_t off, std::string_view data);
  virtual void write_async(const caller& who, std::uint64_t off, std::string_view data,
                           op_ptr<std::size_t> done) {
    done->complete(write(who, off, data));
  }
  // A write whose bytes the file may keep rather than copy (a channel's
  // message taking a 9P write's data whole); `data` may be moved from.
  virtual void write_owned(const caller& who, std::uint64_t off, std::string& data, op_ptr<std::size_t> done) {
    write_async(who, off, data, std::move(done));
  }
  virtual result<void> flush(const caller& who);
  // `why` ends the log line and the error later writes get. Gives that
  // error when the abort undid something, for the opener's `error` file
  // (a client of another member aborts with no write left to refuse).
  virtual std::optional<error> abort(const caller&, std::string_view /*why*/) {
    return std::nullopt;
  }
  // Whether abort would undo anything now: the face asks before it looks
  // up how the closer is ending, which costs a read of /proc.
  virtual bool abortable() const { return false; }
  virtual result<void> sync(const caller&) { return {}; }
  virtual void release() {}

  // True for a handle that still reads after its element was removed.
  virtual bool outlives_element() const { return false; }

  virtual bool readable_now() const { return true; }
  // At most one wake is kept: a later call replaces it, and it dies with
  // the handle. It may be called when nothing changed (the caller asks
  // readable_now() again).
  virtual void wake_when_readable(std::function<void()> wake) { wake(); }
};

using handle_ptr = std::unique_ptr<handle>;

// A file whose content is fixed at open (a snapshot): reads at any offset.
handle_ptr make_text_handle(std::string text);
// The same, for a final result that stays readable after the element is
// removed (a worker's wait status).
handle_ptr make_result_handle(std::string text);

struct open_args {
  caller who;
  int flags = 0;  // open(2) flags
  bool wants_read() const;
  bool wants_write() const;
};

class dir;

struct file_entry {
  std::string_view name;
  std::string_view help;  // one line
  std::string (*read)(dir&, const caller&) = nullptr;
  result<void> (*write)(dir&, const caller&, std::string_view) = nullptr;
  void (*open)(dir&, const open_args&, op_ptr<handle_ptr>) = nullptr;
  bool readable = false;  // for custom files: which ways they open
  bool writable = false;
  // Permission bits for the owner (the element's maker) and the group (the
  // daemon's --allow-group); others get nothing (access.hpp). 0: the owner
  // alone, as the file opens. The owner's bits must match the ways it opens.
  mode_t mode = 0;
};

// One command of a directory's `ctl` file (run by run_ctl, ctl.hpp).
struct verb {
  std::string_view name;
  int nargs;
  std::string_view usage;  // "max-message BYTES"
  std::string_view help;
  result<void> (*run)(dir&, const caller&, std::span<const std::string_view> args);
};

// One field of a directory's `stat` JSON, as its help lists it (the
// fields themselves are a stat_table, stat_table.hpp).
struct stat_doc {
  std::string_view name;
  std::string_view help;
};

// Inode numbers name a directory and one of its files: id << 6 | index,
// index 0 the directory itself, 1 help, 2 error, 3+k the table's row k.
// A file made by create(2) has an id of its own: id << 6 | made_index.
inline constexpr unsigned file_bits = 6;
inline constexpr unsigned help_index = 1, error_index = 2, table_base = 3;
inline constexpr unsigned made_index = (1u << file_bits) - 1;

// A file a directory made by create(2) (bin/'s binaries), beyond its
// table. Its id comes from ns::enroll_file and is never given to another
// file, so an inode or fid a client still holds never names a new one;
// the same name keeps its id for as long as the file lives.
struct made_file {
  std::uint64_t id = 0;
  std::string name;
  mode_t mode = 0;  // permission bits, as a table row's
  uid_t uid = 0;    // its owner (who made it)
  std::uint64_t size = 0;
};

class dir : public std::enable_shared_from_this<dir> {
 public:
  dir(ns& space, dir* parent, std::string name);
  virtual ~dir();
  dir(const dir&) = delete;
  dir& operator=(const dir&) = delete;

  std::uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  dir* parent() const { return parent_; }
  ns& space() const { return space_; }
  std::string path() const;  // "/h1/channels/a"; "/" for the root

  virtual std::span<const file_entry> files() const = 0;
  virtual std::string_view about() const = 0;    // help's first paragraph
  virtual std::string_view example() const = 0;  // help's shell example
  virtual std::span<const verb> verbs() const { return {}; }  // its ctl commands
  virtual std::vector<stat_doc> stat_fields() const { return {}; }  // its stat JSON's keys
  // The directory's permission bits (access.hpp): the group may walk and
  // list it, and nobody writes it (its files are fixed); folders where
  // elements are made override this.
  virtual mode_t mode() const { return 0550; }

  // Subdirectories; plain folders and elements override these.
  virtual dir* child(std::string_view) { return nullptr; }
  virtual std::vector<dir*> children() { return {}; }
  virtual result<dir*> make(const caller& who, std::string_view name);
  virtual result<void> remove(const caller& who, std::string_view name);

  // Files made by create(2). A directory that has them (bin/) gives
  // them by name and by id, and lists those it shows (made_files); the
  // namespace checks the directory's mode (write and search) and the
  // name's file's mode before it calls create, open_made and unlink.
  //  - create: the new file `name`, opened for writing with args.flags;
  //    by default refused (EPERM: the directory has a fixed set of files);
  //  - open_made: an open of one of its made files;
  //  - unlink: removes one; by default refused.
  virtual std::vector<made_file> made_files() const { return {}; }
  virtual std::optional<made_file> made(std::string_view /*name*/) const { return std::nullopt; }
  virtual std::optional<made_file> made(std::uint64_t /*id*/) const { return std::nullopt; }
  virtual void create(const open_args& args, std::string_view name, op_ptr<handle_ptr> done);
  virtual void open_made(const made_file& f, const open_args& args, op_ptr<handle_ptr> done);
  virtual result<void> unlink(const caller& who, std::string_view name);
  // What the refusal of an operation it does not have says after its
  // path (fixed_files): what the directory takes instead.
  virtual std::string_view refusal() const {
    return "has a fixed set of files; mkdir makes elements (see help)";
  }

  // A mount point: the remote that serves what is below it (remote.hpp).
  virtual std::shared_ptr<remote> served_by() const { return nullptr; }

  // Called when the directory leaves the tree (rmdir, or the daemon's
  // stop, which retires the whole tree top-down): completes parked requests.
  virtual void retire() {}

  // Who made this element (its folder sets it at mkdir, from the caller);
  // the daemon's user for the fixed directories. It owns the element's
  // files, and a worker runs as it.
  const principal& maker() const { return maker_; }
  void set_maker(principal p) { maker_ = std::move(p); }
  // Counts this element against `uid`'s --max-elements until it is
  // destroyed (ns::mkdir, once made).
  void count_for(uid_t uid);

 private:
  ns& space_;
  dir* parent_;
  std::string name_;
  std::uint64_t id_;
  principal maker_;
  std::optional<uid_t> counted_;  // whose element it is (count_for)
};

// Names are [A-Za-z0-9._-]{1,64}, not "." or "..". Returns a message
// "what: why" when refused.
result<void> check_name(std::string_view what, std::string_view name);

// The text of a directory's `help` file, from its table.
std::string help_text(const dir& d);

// The refusal of an operation the directory does not have (create, unlink,
// rename, link, symlink): EPERM, "what: name: PATH " and its refusal().
error fixed_files(const dir& d, std::string_view what, std::string_view name);

}  // namespace circuit
