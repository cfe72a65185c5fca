// server.hpp — 9P2000.L served on a core session (circuit-wire(7)).
//
// One server per connection: it cuts frames from the bytes the face reads,
// turns each request into one call on its session (session.hpp), and each
// completion into one reply frame, which it gives to `send`. Replies go out
// in the order requests complete, not the order they came; Rflush follows
// the reply of the request it flushed.
//
// The principal of every request is the connection's peer, as the face
// found it (SO_PEERCRED): the uname and uid of Tattach are ignored, unless
// the peer is root, who may attach as any uid (n_uname) — the one way a
// trusted relay (a peer daemon, later) speaks for its callers. Such a uid's
// groups are looked up here (getpwuid, getgrouplist); an unknown uid is
// refused.
//
// Tversion starts the session over: everything the old one held is
// aborted and its replies are not sent, as 9P says.
//
// Thread safety: the loop thread, like the session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "circuit/core/session.hpp"
#include "circuit/wire/messages.hpp"

namespace circuit::wire {

class server {
 public:
  // `peer`: who is at the other end (its key names the connection).
  // `send`: a reply for the connection, which encodes it where it
  // gathers its output (so a read's bytes are copied once, into it).
  using sender = std::function<void(std::uint16_t tag, const rmessage&)>;
  server(ns& space, caller peer, sender send);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Bytes read from the connection. An error means the stream cannot be
  // trusted any more (a frame size that lies): the face closes it. A frame
  // that decodes badly is answered Rlerror(EINVAL) and the stream goes on.
  result<void> feed(std::string_view bytes);
  // While `full()` is true, feed cuts no more frames: what it was given
  // waits, and a later feed (of no bytes, say) serves it. The face uses
  // this to stop serving a client that does not read its replies.
  void hold_when(std::function<bool()> full) { hold_ = std::move(full); }

  // Who the peer is, for the log ("cluster: link 10.0.0.2:40312"). A peer's
  // complaints (a frame that does not decode, a version other than
  // 9P2000.L) are logged with it: the first one, and how many more when
  // the server goes, so a peer that sends nothing else cannot fill the log.
  void name_for_log(std::string name) { name_ = std::move(name); }

  std::uint32_t msize() const { return msize_; }
  const session* current() const { return ses_.get(); }
  // Bytes read but not yet served: part of a frame, or frames held back.
  std::size_t buffered() const { return in_.size(); }
  // The bytes the requests in flight (served, not yet answered) hold and
  // may still bring: each its frame, and the most its reply can be (a
  // read's or readdir's count and its header, small_reply for any other).
  // A request parked here (a write to a full stdin, an open of an empty
  // recv) or carried to another member is answered later, so the face
  // bounds this too before it cuts more frames (connection.hpp).
  std::size_t in_flight() const { return in_flight_; }
  // Whether root has attached here as another caller (n_uname): a
  // daemon's mount or link, carrying many callers on this connection.
  bool relays() const { return relays_; }
  static constexpr std::size_t small_reply = 256;  // Rwalk of 16 qids: 219

 private:
  void serve_frame(std::string_view frame);  // one whole frame: decoded and served
  void serve(std::uint16_t tag, tmessage& m);
  void version(std::uint16_t tag, const tversion& m);
  void attach(std::uint16_t tag, const tattach& m);
  // The caller of a request on `fid`: the principal its attach gave.
  const caller& who(fid_t fid) const;
  // A fid's caller, bound when a request names the fid first (an attach,
  // a walk's newfid), with a serial: an answer that comes later undoes
  // only its own binding, never that of a walk that reused the fid since.
  std::uint64_t bind_as(fid_t fid, caller c);
  std::uint64_t bind(fid_t newfid, fid_t from);  // 0 if `from` has none
  void unbind(fid_t fid) { callers_.erase(fid); }
  void unbind_if(fid_t fid, std::uint64_t serial);
  template <class T>
  reply<T> answer(std::uint16_t tag, std::function<rmessage(T&)> ok);
  reply<void> answer_void(std::uint16_t tag, rmessage ok);
  void send(std::uint16_t tag, const rmessage& m);
  void send_unserved(std::uint16_t tag, const rmessage& m);  // a reply to a request never served
  static std::size_t reserve_for(const tmessage& m, std::size_t frame, std::uint32_t msize);
  void complain(const std::string& what);

  ns& space_;
  caller peer_;
  sender send_;
  std::unique_ptr<session> ses_;
  std::uint64_t generation_ = 0;  // replies of an older session are dropped
  bool versioned_ = false;
  bool closing_ = false;
  std::uint32_t msize_ = 8192;
  std::string in_;
  std::string name_ = "client";
  std::uint64_t complaints_ = 0;
  std::function<bool()> hold_;
  struct bound {
    caller who;
    std::uint64_t serial = 0;
  };
  std::unordered_map<fid_t, bound> callers_;
  std::uint64_t serials_ = 0;
  std::unordered_map<std::uint16_t, std::size_t> reserved_;  // tag in flight -> its bytes
  std::size_t in_flight_ = 0;
  bool relays_ = false;
};

}  // namespace circuit::wire
