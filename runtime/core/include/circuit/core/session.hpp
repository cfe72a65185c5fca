// session.hpp — one client's conversation with the namespace, in 9P's terms
// (DESIGN.md §1; circuit-wire(7)).
//
// Every face serves its clients through sessions: the FUSE mount is one
// session, each socket connection is one, each remote caller on a peer
// link will be one. A session owns
//  - its fids: numbers the client chose, each naming a file or directory
//    of the tree, and once opened (lopen) an open file;
//  - its requests, by tag: each completes exactly once, through the
//    callback given with it; `flush` finds one by tag and cancels it.
//
// Requests that name the same fid run in the order they arrived, so a
// client may pipeline walk + lopen + write + clunk without waiting for
// the replies: each starts when the ones before it on its fids have
// completed. Only flush cancels. Requests on different fids run at once
// (a receive parked on one fid does not hold up a walk on another).
//
// Ends of an open, as 9P has them:
//  - clunk commits: a send delivers its message (the verdict is clunk's
//    result), a received message that was read to its end is consumed;
//  - remove of an open fid aborts: a send delivers nothing and gives its
//    place back, a taken message goes back to its place in the order
//    (an extension of 9P's remove, which removes the file: circuit's files
//    are never removed one by one; circuit-wire(7) says so);
//  - fsync commits at once and returns the verdict; the fid stays open.
// The end of the session (its destructor) aborts everything it holds:
// parked requests complete with errc::interrupted, open fids are aborted,
// so nothing a dead client wrote is delivered and no message is lost.
//
// Every operation is asynchronous: it completes through its callback,
// possibly before the call returns (most do: a walk of the local tree), or
// later (a receive on an empty channel). A callback must not destroy its
// session; a face that wants to end one posts that to its loop.
//
// The caller (principal and session key) comes with every request, from
// the face: the FUSE face gives each kernel request's process, the socket
// face the peer's credentials. The namespace applies the access rules
// (access.hpp) to it.
//
// Each fid counts against the uid that walked or attached it: past the
// namespace's bound for one user (ns::may_take_fid), walks and attaches
// fail with ENOMEM. The FUSE face's session is not bounded (bounded_fids
// false): its fids are the inodes the kernel keeps, which the kernel
// bounds and gives back under memory pressure.
//
// Thread safety: belongs to the loop thread, like `ns`.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "circuit/core/namespace.hpp"
#include "circuit/core/remote.hpp"

namespace circuit {

using fid_t = std::uint32_t;
// Wire tags are 16 bits; the FUSE face numbers its requests in 64.
using tag_t = std::uint64_t;

template <class T>
using reply = std::function<void(result<T>)>;

class session {
 public:
  explicit session(ns& space);
  ~session();  // ends the session: see above
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  ns& space() { return space_; }
  void bounded_fids(bool b) { bounded_ = b; }

  // Makes `fid` name the root. Fails for a caller the namespace does not
  // admit, and for a fid in use.
  void attach(const caller& who, tag_t tag, fid_t fid, reply<attr> done);
  // Walks from `fid` through `names` ("." and ".." included) and makes
  // `newfid` name where it ends, when it reaches the last name. As in 9P:
  // no names clones the fid; a first name that fails is an error; a later
  // one ends the walk early, with the attributes of the names walked and
  // no newfid. `fid` must not be an open file (an open directory may be
  // walked from, as diod allows); newfid may equal fid.
  // `needs`: what of the names reached (remote.hpp); the kernel's lookup
  // needs attributes, a 9P client's Rwalk only qids.
  void walk(const caller& who, tag_t tag, fid_t fid, fid_t newfid,
            std::vector<std::string> names, walk_needs needs, reply<std::vector<attr>> done);
  void walk(const caller& who, tag_t tag, fid_t fid, fid_t newfid,
            std::vector<std::string> names, reply<std::vector<attr>> done) {
    walk(who, tag, fid, newfid, std::move(names), walk_needs::attributes, std::move(done));
  }
  void getattr(const caller& who, tag_t tag, fid_t fid, reply<attr> done);
  // Opens the file `fid` names with open(2) flags (O_RDONLY ... O_NONBLOCK);
  // may park (a receive on an empty channel). A directory opens for
  // reading only and takes its listing then.
  void lopen(const caller& who, tag_t tag, fid_t fid, int flags, reply<attr> done);
  // The listing taken at lopen, from entry `index` on (the wire's readdir
  // offset is the index of the next entry).
  void readdir(const caller& who, tag_t tag, fid_t fid, std::uint64_t index,
               reply<std::vector<dir_entry>> done);
  // `nonblock`: -1 as opened, else whether a read that would wait fails
  // with errc::would_block (the FUSE face gives the descriptor's flags of
  // the moment, which fcntl may have changed).
  void read(const caller& who, tag_t tag, fid_t fid, std::uint64_t off, std::size_t count,
            reply<std::string> done, int nonblock = -1);
  void write(const caller& who, tag_t tag, fid_t fid, std::uint64_t off, std::string data,
             reply<std::size_t> done);
  void fsync(const caller& who, tag_t tag, fid_t fid, reply<void> done);
  // Forgets the fid; an open one commits first, and the result is the
  // commit's verdict (the fid is gone either way).
  void clunk(const caller& who, tag_t tag, fid_t fid, reply<void> done);
  // Forgets the fid; an open one aborts. A fid naming an element's
  // directory removes the element (rmdir), which fails as rmdir does.
  void remove(const caller& who, tag_t tag, fid_t fid, reply<void> done);
  void mkdir(const caller& who, tag_t tag, fid_t dfid, std::string name, reply<attr> done);
  // 9P's lcreate: makes the file `name` in the directory `fid` names
  // (ns::create), and `fid` becomes that file, open with open(2) `flags`
  // (for writing); the answer is its attributes. Below a mount point the
  // remote makes it. Directories whose files are fixed refuse (EPERM).
  void lcreate(const caller& who, tag_t tag, fid_t fid, std::string name, int flags, mode_t mode,
               reply<attr> done);
  // Removes the element `name` of directory `dfid` (rmdir: `dir` true), or
  // the file `name` made by create (ns::unlink); the table's files are
  // refused.
  void unlinkat(const caller& who, tag_t tag, fid_t dfid, std::string name, bool dir,
                reply<void> done);
  // Operations the tree refuses (rename): the error, recorded for the
  // caller in the directory `dfid` names.
  void refuse(const caller& who, tag_t tag, fid_t dfid, std::string name, std::string what,
              reply<void> done);
  // Cancels the request `old` (it completes, with errc::interrupted unless
  // its result was there first), then completes. An unknown tag (answered
  // already) completes at once.
  void flush(tag_t old, reply<void> done);

  // For faces that need more than 9P says (the FUSE face):
  //  - closed: a holder of the open closed a descriptor (FUSE FLUSH, every
  //    close(2)); repeats a refusal of the open's writes;
  //  - abort: a holder is dying of a signal; nothing the open made commits;
  //  - readable: poll(2) of an open fid (ns::readable);
  //  - access: access(2) of the file `fid` names;
  //  - file: the open file of an open fid, or null;
  //  - below_mount: whether a fid is below a mount point (a remote's file).
  result<void> closed(const caller& who, fid_t fid);
  // The same, for a file this session made by lcreate below a mount point
  // (a binary sent into another host's bin/): there it asks the remote's
  // fsync for the verdict once something was written through it (a
  // shell's redirection closes a descriptor before), so that close(2)
  // reports it across hosts as it does here; queued behind the fid's
  // writes. Every other fid completes at once, as closed() above.
  void closed(const caller& who, tag_t tag, fid_t fid, reply<void> done);
  void abort(const caller& who, fid_t fid);
  bool abortable(fid_t fid) const;
  bool readable(fid_t fid, std::function<void()> wake);
  result<void> access(const caller& who, fid_t fid, int mask);
  open_file* file(fid_t fid) const;
  bool below_mount(fid_t fid) const;

  std::size_t fids() const { return fids_.size(); }
  std::size_t requests() const { return by_tag_.size(); }

 private:
  struct fid_state {
    std::uint64_t ino = 0;
    bool opening = false;          // lopen in progress
    bool open = false;
    int flags = 0;                 // of the lopen
    open_file* file = nullptr;     // an open file (not a directory)
    std::vector<dir_entry> listing;  // an open directory
    // Below a mount point: the remote that serves the file, and its fid
    // there. Every request on such a fid is the remote's (remote.hpp).
    std::shared_ptr<remote> rt;
    std::uint32_t rfid = 0;
    bool aborted = false;  // a holder died of a signal: its clunk aborts
    bool gone = false;     // aborted there already: nothing more goes to the remote
    bool made = false;     // by lcreate, below a mount point
    bool wrote = false;    // a write went through it
    uid_t uid = 0;         // whose walk or attach made it (ns::count_fid)
  };
  struct request;
  // The fids a request names: one, or two for a walk. Held in place: a
  // request costs no allocation for them.
  class request_fids {
   public:
    request_fids(std::initializer_list<fid_t> fids);  // sorted, without repeats
    const fid_t* begin() const { return f_; }
    const fid_t* end() const { return f_ + n_; }

   private:
    fid_t f_[2] = {};
    std::size_t n_ = 0;
  };

  // Queues a request on `fids` and starts it when it is at the head of
  // each of their queues. `run` starts the work and completes `o`.
  template <class T>
  void submit(tag_t tag, request_fids fids, reply<T> done, std::function<void(op_ptr<T>)> run);
  void enqueue(fid_t f, request* r);
  std::vector<reply<void>> finish(request* r);
  void kick(fid_t fid);
  void drain();
  bool at_heads(const request* r) const;
  // Pipelining (remote.hpp): the request now starting went out to a remote
  // that runs requests on one fid in the order they came; the requests
  // behind it on its fids may go out now, before its answer.
  void pass_on();
  void dequeue(request* r);
  // What a write or fsync of an open aborted below a mount point gets.
  static error aborted_error(const char* call);

  result<fid_state*> find(fid_t fid);
  // The rest of a walk below a mount point, from remote fid `from` (or the
  // top): `walked` are the attributes walked so far here, `above` the
  // directory here that holds the mount point (0 from a remote fid), whose
  // `error` file tells a refusal at the top (an attach refused there).
  void walk_remote(const caller& who, fid_t fid, fid_t newfid, std::shared_ptr<remote> rt,
                   std::optional<std::uint32_t> from, std::vector<std::string> names, walk_needs needs,
                   std::vector<attr> walked, std::uint64_t above, op_ptr<std::vector<attr>> o);
  // The lopen of a fid below a mount point, by its remote; `starting`:
  // called as its request starts (which may then pass_on()). `issue`
  // sends another request that opens it instead (lcreate).
  void lopen_remote(fid_state& s, fid_t fid, int flags, op_ptr<attr> o, bool starting,
                    const std::function<void(op_ptr<attr>)>& issue = nullptr);
  // Makes `newfid` (replacing it when it is `fid`) with state `st`,
  // counted against who (ns::count_fid).
  void make_fid(const caller& who, fid_t fid, fid_t newfid, fid_state st);

  ns& space_;
  bool bounded_ = true;  // fids bounded per uid (bounded_fids)
  // The room for one more fid of who's, when fids are bounded.
  result<void> room_for(const caller& who) const { return bounded_ ? space_.may_take_fid(who) : result<void>(); }
  std::unordered_map<fid_t, fid_state> fids_;
  std::unordered_map<tag_t, std::shared_ptr<request>> by_tag_;
  using queue_map = std::unordered_map<fid_t, std::vector<request*>>;
  queue_map queues_;
  // Queues emptied lately, kept with their memory for the next fids to
  // queue on: a request in the steady state allocates none (a fid's queue
  // is made and emptied by nearly every request).
  std::vector<queue_map::node_type> spare_queues_;
  std::deque<fid_t> ready_;
  bool draining_ = false;
  request* running_ = nullptr;  // the request drain() is starting
  bool ending_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace circuit
