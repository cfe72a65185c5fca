// channel.hpp — a Go channel of byte strings that lives in this daemon.
//
// The rules (DESIGN.md §2 "Channels"), in terms of the state below:
//  - A send is an open of `send`: it reserves a place — a buffer slot, or a
//    waiting receiver when the buffer is full (cap 0 always) — and parks
//    while there is none. Everything written through that one open, by
//    every process that holds it, is the message; the last close (release)
//    delivers it, or fsync does at once. A holder that dies of a signal
//    aborts it: nothing is delivered and the place is freed.
//  - Message bytes are taken from the daemon's memory budget as they are
//    written, and given back when the message is consumed or dropped.
//  - A receive is an open of `recv`: it takes the front message, or parks
//    until one comes. The message counts as received once reads have
//    returned all of its bytes; a receiver that closes before that puts it
//    back at its place in the order (messages carry their sequence number),
//    so a dying receiver loses nothing and the order holds.
//  - A try-receive (tryrecv, O_NONBLOCK) takes a buffered message, or,
//    when a sender is parked, parks too — giving that sender its place, as
//    in Go a non-blocking receive meets a ready sender — and gives up with
//    errc::would_block at the first pump after which nothing can reach it.
//  - close: parked senders fail with errc::closed; receivers drain the
//    buffer, the places still reserved and the messages held by receivers
//    (which may come back), then fail with errc::closed.
// Invariant, checked by pump(): no sender is parked while a place is free,
// and no receiver is parked while a message is buffered.
//
// Thread safety: belongs to the loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "circuit/core/dir.hpp"
#include "circuit/core/wait_queue.hpp"
#include "message.hpp"

namespace circuit {

class channel final : public dir {
 public:
  static constexpr std::uint64_t max_cap = 1u << 20;

  channel(ns& space, dir* parent, std::string name);
  ~channel() override;

  std::span<const file_entry> files() const override;
  std::string_view about() const override;
  std::string_view example() const override;
  void retire() override;

  result<void> set_cap(std::string_view text);
  std::string cap_text() const;
  result<void> close_command(std::string_view text);
  std::string stat() const;  // the JSON of its stat table (channel.cpp)
  std::vector<stat_doc> stat_fields() const override;

  // Opens: `block` false is the try-variant (errc::would_block at once).
  void open_send(bool block, op_ptr<handle_ptr> done);
  // `acknowledged`: a receiver on another member (caller::remote).
  void open_recv(bool block, bool acknowledged, op_ptr<handle_ptr> done);

  // Used by the handles of send and recv.
  message new_message() { return message(memory()); }
  result<void> deliver(message msg);
  void unreserve();
  void put_back(message msg);
  void consumed();
  budget& memory();
  std::size_t max_message() const;
  std::size_t len() const { return buf_.size(); }
  std::size_t senders_waiting() const { return senders_.size(); }
  std::size_t receivers_waiting() const { return receivers_.size(); }
  std::uint64_t cap() const { return cap_; }
  bool closed() const { return closed_; }
  std::uint64_t reserved() const { return reserved_; }
  std::uint64_t held() const { return held_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t received() const { return received_; }

 private:
  struct receiver {
    bool try_ = false;  // a try-receive: gives up when nothing can reach it
    bool acknowledged = false;  // on another member (recv_end)
  };

  bool can_reserve() const { return buf_.size() + reserved_ < cap_ + receivers_.size(); }
  // End of channel: closed, and no message buffered, reserved or held.
  bool ended() const { return closed_ && buf_.empty() && reserved_ == 0 && held_ == 0; }
  void pump();
  void give_up_tries(completions& batch);
  void give(completions& batch, op_ptr<handle_ptr> receiver, message msg, bool acknowledged);
  void give_front(completions& batch, message msg);
  message take_front();
  std::shared_ptr<channel> self();

  std::uint64_t cap_ = 0;
  bool used_ = false;  // cap is fixed after the first use
  bool closed_ = false;
  bool removed_ = false;
  std::uint64_t reserved_ = 0;  // places taken by senders that have not delivered
  std::uint64_t held_ = 0;      // messages taken by receivers, not yet consumed
  std::uint64_t sent_ = 0, received_ = 0;
  std::map<std::uint64_t, message> buf_;  // by sequence number: the order they went in
  wait_queue<handle_ptr> senders_;
  wait_queue<handle_ptr, receiver> receivers_;
};

}  // namespace circuit
