// channel.hpp — a Go channel of byte strings that lives in this daemon.
//
// The rules (DESIGN.md §2 "Channels"), in terms of the state below:
//  - A send is an open of `send`: it reserves a place — a buffer slot, or a
//    waiting receiver when the buffer is full (cap 0 always) — and parks
//    while there is none. The bytes written until the first close after a
//    write are the message; that close delivers it (a sender that closes
//    without writing delivers an empty message at its last close).
//  - A receive is an open of `recv`: it takes the front message, or parks
//    until one comes. The message counts as received once reads have
//    returned all of its bytes; a receiver that closes before that puts it
//    back at the front, so a dying receiver loses nothing.
//  - close: parked senders fail with errc::closed; receivers drain the
//    buffer and the places still reserved, then fail with errc::closed.
// Invariant, checked by pump(): no sender is parked while a place is free,
// and no receiver is parked while a message is buffered.
//
// Thread safety: belongs to the loop thread.
#pragma once

#include <cstdint>
#include <list>
#include <string>

#include "circuit/runtime/dir.hpp"

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
  void open_recv(bool block, op_ptr<handle_ptr> done);

  // Used by the handles of send and recv.
  result<void> deliver(std::string msg);
  void unreserve();
  void put_back(std::string msg);
  void consumed() { ++received_; }
  std::size_t max_message() const;
  std::size_t len() const { return buf_.size(); }
  std::size_t senders_waiting() const { return senders_.size(); }
  std::size_t receivers_waiting() const { return receivers_.size(); }
  std::uint64_t cap() const { return cap_; }
  bool closed() const { return closed_; }
  std::uint64_t reserved() const { return reserved_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t received() const { return received_; }

 private:
  bool can_reserve() const { return buf_.size() + reserved_ < cap_ + receivers_.size(); }
  void pump();
  void park(std::list<op_ptr<handle_ptr>>& q, op_ptr<handle_ptr> done);
  void fail_all(std::list<op_ptr<handle_ptr>>& q, const error& e);
  void give(op_ptr<handle_ptr> receiver, std::string msg);
  std::shared_ptr<channel> self();

  std::uint64_t cap_ = 0;
  bool used_ = false;  // cap is fixed after the first use
  bool closed_ = false;
  bool removed_ = false;
  std::uint64_t reserved_ = 0;  // places taken by senders that have not closed
  std::uint64_t sent_ = 0, received_ = 0;
  std::list<std::string> buf_;
  std::list<op_ptr<handle_ptr>> senders_, receivers_;
};

}  // namespace circuit
