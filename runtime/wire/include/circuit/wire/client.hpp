// client.hpp — an asynchronous 9P2000.L client on Boost.Asio.
//
// One `client` is one connection, one session on the server. It carries
// the cluster's forwarding and libcircuit later, and the `circuit` command
// now. Use:
//
//   wire::client::connect_unix(ex, "/run/circuit/h1.sock", {}, [](auto c) {
//     if (!c) return fail(c.err());
//     auto cl = *c;
//     cl->version([cl](result<std::uint32_t> msize) { ... cl->attach(...); });
//   });
//
// Every request is a method taking its fields and a handler, which is
// called exactly once, on the client's executor, never from inside the
// call that issued it:
//  - with the reply's content when the server answers;
//  - with the server's error when it answers Rlerror: the code is the
//    errno's errc (from_errno) and the message the errno's words
//    ("No such file or directory");
//  - with errc::timed_out when the request's deadline passes first (the
//    client then flushes the tag on the server and drops its late reply);
//  - with errc::interrupted when a flush() of its tag was answered before
//    its reply came;
//  - with errc::host_unreachable for every request still pending when the
//    connection drops (or already dropped when the request is made), and
//    errc::invalid, then the same drop, when a reply does not decode; with
//    errc::timed_out when the drop is the transport's ETIMEDOUT (a TCP
//    link whose peer stopped acknowledging, TCP_USER_TIMEOUT).
//
// Many requests may be in flight: each gets a free tag, frames issued in a
// row go out in one write (pipelining: a walk, lopen, write and clunk cost
// one round trip), and replies are matched by tag in whatever order they
// come. Fids are the caller's: new_fid() hands out unused numbers, and
// clunk and remove give theirs back (9P forgets the fid either way).
//
// The bytes go over a `transport`, a small seam: a Unix stream socket now,
// a TLS stream for the cluster later.
//
// Thread safety: a client belongs to its executor; call it only from code
// running there (one io_context thread, or a strand). It stays alive while
// it has a connection (its reads hold it): close() ends it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include "circuit/core/error.hpp"
#include "circuit/wire/codec.hpp"

namespace circuit::wire {

// A byte stream the client speaks over. async_write writes all of the
// buffer or fails; the buffers stay valid until the handler runs.
class transport {
 public:
  using io_handler = std::function<void(boost::system::error_code, std::size_t)>;
  virtual ~transport() = default;
  virtual void async_read_some(boost::asio::mutable_buffer buf, io_handler done) = 0;
  virtual void async_write(boost::asio::const_buffer buf, io_handler done) = 0;
  // Ends the stream; pending reads and writes complete with an error.
  virtual void close() = 0;
  // Where its completions run (the loop thread).
  virtual boost::asio::any_io_executor get_executor() = 0;
};

// A transport over a connected Unix stream socket.
std::unique_ptr<transport> unix_transport(boost::asio::local::stream_protocol::socket socket);

template <class T>
using handler = std::function<void(result<T>)>;

class client : public std::enable_shared_from_this<client> {
 public:
  using duration = std::chrono::steady_clock::duration;

  struct options {
    // The msize asked for in version(); the server may answer less.
    std::uint32_t msize = max_msize;
    // How long each request may wait for its reply; zero: for ever
    // (a receive that parks until a message comes needs that).
    duration deadline = duration::zero();
    // Called once, on the executor, when the connection ends (it failed,
    // or close()): a face that keeps the client makes a new one.
    std::function<void(const error&)> on_drop;
    // Requests made outside a turn (turn.hpp) wait for write_queued() rather
    // than a posted write: for an owner that runs the loop only to wait
    // for answers (conn.hpp), flushing before it waits. Asio polls epoll
    // before it runs a posted handler, and again before the completion
    // the write posts: two system calls a batch saved.
    bool sent_by_owner = false;
    // What requests get once the connection has ended, if not EHOSTUNREACH
    // with the reason (`on_drop` is told the reason all the same): the
    // mount of a program's files says they are gone, as a removed
    // element's files say (ENOENT).
    std::optional<error> lost;
  };

  // A client over `t`, which is connected already.
  static std::shared_ptr<client> make(boost::asio::any_io_executor ex, std::unique_ptr<transport> t,
                                      options opts);
  // Connects to the Unix socket at `path`; the error names it
  // ("9p: /run/circuit/h1.sock: No such file or directory").
  static void connect_unix(boost::asio::any_io_executor ex, std::string path, options opts,
                           handler<std::shared_ptr<client>> done);

  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Negotiates msize and the version "9P2000.L" (a server that answers
  // another version is refused with errc::not_supported). Gives the msize
  // both sides now use. Call it first, alone.
  void version(handler<std::uint32_t> done);
  // Attaches `fid` at the root of the server's tree as user `uname` /
  // `n_uname` (no auth: circuit refuses it), giving the root's qid.
  void attach(std::uint32_t fid, std::string uname, std::uint32_t n_uname, std::string aname,
              handler<qid> done);

  // 9P's walk: the qids of the names walked (fewer than asked when a later
  // name failed; then newfid was not made). At most max_walk names.
  void walk(std::uint32_t fid, std::uint32_t newfid, std::vector<std::string> names,
            handler<std::vector<qid>> done);
  void lopen(std::uint32_t fid, std::uint32_t flags, handler<rlopen> done);
  // Up to `count` bytes (count is capped at msize - rread_overhead).
  void read(std::uint32_t fid, std::uint64_t offset, std::uint32_t count,
            handler<std::string> done);
  // Writes `data`, which must fit in one message (max_write()); gives the
  // count the server took.
  void write(std::uint32_t fid, std::uint64_t offset, std::string data,
             handler<std::uint32_t> done);
  void clunk(std::uint32_t fid, handler<void> done);
  void remove(std::uint32_t fid, handler<void> done);
  void mkdir(std::uint32_t dfid, std::string name, std::uint32_t mode, std::uint32_t gid,
             handler<qid> done);
  // Makes the file `name` in the directory `fid`, which becomes that
  // file, open with `flags` (o_wronly, o_excl ...).
  void lcreate(std::uint32_t fid, std::string name, std::uint32_t flags, std::uint32_t mode,
               std::uint32_t gid, handler<rlcreate> done);
  void unlinkat(std::uint32_t dfid, std::string name, std::uint32_t flags, handler<void> done);
  // Renames, links and special files, which circuit's namespace refuses
  // (its server answers EPERM with words): sent to another server so that
  // it refuses them itself. A success is taken as such.
  void renameat(std::uint32_t dfid, std::string name, std::uint32_t newdfid, std::string newname,
                handler<void> done);
  void link(std::uint32_t dfid, std::uint32_t fid, std::string name, handler<void> done);
  void symlink(std::uint32_t dfid, std::string name, std::string target, std::uint32_t gid,
               handler<void> done);
  void mknod(std::uint32_t dfid, std::string name, std::uint32_t mode, std::uint32_t gid,
             handler<void> done);
  void getattr(std::uint32_t fid, std::uint64_t mask, handler<rgetattr> done);
  // The entries from `offset` (0, then the last entry's offset), in at
  // most `count` bytes; none at the end.
  void readdir(std::uint32_t fid, std::uint64_t offset, std::uint32_t count,
               handler<std::vector<dirent>> done);
  void fsync(std::uint32_t fid, handler<void> done);
  // Cancels the request with tag `oldtag` (see tag_of_last()). `done` runs
  // when the server's Rflush came; the old request has completed by then.
  void flush(std::uint16_t oldtag, handler<void> done);

  // Flushes every request in flight that is not being flushed already:
  // each completes with errc::interrupted, or with its reply if that wins.
  void interrupt_all();
  // Starts writing the requests made so far, unless a write is already on
  // its way to do so (sent_by_owner).
  void write_queued();

  // Any request, with the raw reply (Rlerror is an error, as above); gives
  // the tag it was sent with (notag if it failed at once).
  std::uint16_t request(tmessage m, handler<rmessage> done);
  // The tag of the last request sent (to flush it).
  std::uint16_t tag_of_last() const { return last_tag_; }

  // An unused fid (numbers from 1; 0 is left to the caller's attach).
  std::uint32_t new_fid();
  void release_fid(std::uint32_t fid);

  // Requests issued from now on wait at most `d` (zero: for ever).
  void set_deadline(duration d) { deadline_ = d; }
  const boost::asio::any_io_executor& executor() const { return ex_; }
  std::uint32_t msize() const { return msize_; }
  std::uint32_t max_write() const { return msize_ - twrite_overhead; }
  std::size_t in_flight() const { return pending_.size(); }
  bool connected() const { return !dropped_; }

  // Ends the connection: every pending request fails with
  // errc::host_unreachable. Idempotent.
  void close();

 private:
  using time_point = std::chrono::steady_clock::time_point;
  struct pending {
    handler<rmessage> done;  // empty once completed (timed out, flushed)
    bool flushing = false;   // a Tflush of the tag is in flight
    time_point deadline{};   // none: the epoch
  };

  client(boost::asio::any_io_executor ex, std::unique_ptr<transport> t, options opts);

  std::uint16_t send(std::uint16_t tag, const tmessage& m, handler<rmessage> done);
  std::uint16_t free_tag();
  void start_write();
  void start_read();
  void on_frames(std::string_view bytes);
  void on_reply(std::uint16_t tag, rmessage m);
  void expire(std::uint16_t tag);
  // One timer for all the deadlines: armed at the earliest, it expires
  // what is due and arms again (no timer made and cancelled per request).
  void arm_sweep(time_point at);
  void sweep();
  void drop(error why);
  void post_error(handler<rmessage> done, error e);
  template <class R, class T, class F>
  handler<rmessage> expect(handler<T> done, F take);

  boost::asio::any_io_executor ex_;
  std::unique_ptr<transport> transport_;
  std::uint32_t msize_;
  duration deadline_;
  std::function<void(const error&)> on_drop_;
  bool sent_by_owner_;
  std::optional<error> lost_;
  std::unordered_map<std::uint16_t, pending> pending_;
  std::uint16_t next_tag_ = 0;
  std::uint16_t last_tag_ = notag;
  std::string writing_;  // the bytes of the write under way
  std::string queued_;   // frames issued since it started
  bool write_busy_ = false;
  bool write_posted_ = false;  // a write starts once the loop's turn ends
  std::string inbox_;    // bytes read, not yet a whole frame
  std::vector<char> read_buf_;
  bool reading_ = false;
  bool dropped_ = false;
  std::unique_ptr<boost::asio::steady_timer> sweep_;
  time_point sweep_at_{};  // when sweep_ fires; the epoch: not armed
  std::uint32_t next_fid_ = 1;
  std::vector<std::uint32_t> free_fids_;
};

}  // namespace circuit::wire
