// connection.hpp — a wire::server on a byte stream: the requests a
// transport brings are served, the replies go back on it.
//
// A face (the Unix socket, a peer link) accepts a stream, finds who is at
// the other end, and starts a connection; the connection reads, serves
// through its own wire::server (one core session) and writes, until the
// stream ends, a frame lies about its size, or the face closes it. Then
// the session ends (what it held is aborted) and `gone` is called once.
//
// A client that sends requests and never reads the replies would make the
// daemon hold the replies without bound. So replies waiting to go out are
// bounded: over max_unsent bytes the stream is not read (the server cuts
// no more frames, the kernel's buffer fills, the client's writes block)
// until the client has taken enough of them. Requests in flight count
// too: one carried to another member, or parked here, is answered later,
// and meanwhile holds its bytes (a 1 MiB write to a full stdin) and may
// bring back as many (a read of 1 MiB). A client could send thousands of
// them before the first reply. So the stream is not read either while
// the replies waiting plus what the requests in flight hold and may bring
// (server::in_flight) reach max_in_flight. A client with more than that
// parked at once must use more connections (or smaller reads and
// writes); its further requests wait for one of them.
// A peer that carries many callers' requests on one connection, and
// reads it at once, is exempt: a member's link and the daemon's
// connection to a program's own files (carries_many_callers), and a
// connection where root attached as another caller (server::relays: a
// daemon that mounted this one's socket). Its callers' parked requests
// must not hold the others'; each caller is bounded where it came in.
//
// A stream that ends inside a frame ends the connection with why (the
// face logs it): a peer that stops halfway is not mistaken for one that
// hung up between requests.
//
// Thread safety: the loop thread, like the session.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "circuit/core/error.hpp"
#include "circuit/wire/client.hpp"
#include "circuit/wire/server.hpp"

namespace circuit::wire {

class connection : public std::enable_shared_from_this<connection> {
 public:
  // Called once when the connection ends: with why, when a frame could
  // not be trusted; with nothing when the peer or the face closed it.
  using gone_handler = std::function<void(connection*, std::optional<error>)>;

  static constexpr std::size_t max_unsent = std::size_t{1} << 20;
  static constexpr std::size_t max_in_flight = std::size_t{64} << 20;

  // Serves `space` on `stream` as `peer`, reading at once.
  static std::shared_ptr<connection> start(ns& space, caller peer,
                                           std::unique_ptr<transport> stream, gone_handler gone);
  connection(ns& space, caller peer, std::unique_ptr<transport> stream, gone_handler gone);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Ends the session and the stream. The object goes when its last
  // read or write has completed. Idempotent.
  void close() { end(std::nullopt); }
  bool closed() const { return closed_; }
  // The peer carries many callers' requests (a member, the daemon): its
  // requests in flight are not bounded.
  void carries_many_callers() { in_flight_bound_ = false; }
  // Names the peer in the log (server::name_for_log).
  void name_for_log(std::string name) { if (srv_) srv_->name_for_log(std::move(name)); }

  // For a face's watchdog: true while part of a frame has come and the
  // rest is awaited, and how many bytes have come in all. A face ends a
  // connection that stays inside one frame, making no progress, for too
  // long (a peer that stopped halfway).
  bool inside_frame() const { return reading_ && srv_ && srv_->buffered() > 0; }
  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool full() const {
    std::size_t unsent = pending_.size() + out_.size();
    return unsent >= max_unsent || (in_flight_bound_ && srv_ && !srv_->relays() &&
                                    unsent + srv_->in_flight() >= max_in_flight);
  }
  void read();
  bool feed(std::string_view bytes);
  void resume();
  void queue(std::uint16_t tag, const rmessage& m);
  void write();
  void end(std::optional<error> why);

  std::unique_ptr<transport> stream_;
  std::unique_ptr<server> srv_;
  gone_handler gone_;
  // What one read brings: 64 KiB, grown to 256 KiB on a connection whose
  // reads fill it (a stream of large writes), so that most frames are
  // served where they were read, not gathered first (server::feed).
  std::vector<char> buf_ = std::vector<char>(64 * 1024);
  std::string pending_, out_;
  bool writing_ = false;
  bool corked_ = false;  // feeding: replies wait for the end of the batch
  bool write_posted_ = false;  // a write at the end of this loop turn
  bool reading_ = false;
  bool closed_ = false;
  bool in_flight_bound_ = true;
  std::uint64_t bytes_read_ = 0;
};

}  // namespace circuit::wire
