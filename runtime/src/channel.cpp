#include "circuit/runtime/channel.hpp"

#include <fcntl.h>

#include <optional>

#include "circuit/runtime/ctl.hpp"
#include "circuit/runtime/namespace.hpp"
#include "circuit/runtime/stat_table.hpp"

namespace circuit {
namespace {

// An open of `send`: holds a reserved place; the bytes written are the
// message, delivered by the first close after a write (or the last close).
class send_handle final : public handle {
 public:
  explicit send_handle(std::shared_ptr<channel> ch) : ch_(std::move(ch)) {}
  // Destroyed without a release (the open's reply never reached anyone):
  // give the place back, deliver nothing.
  ~send_handle() override {
    if (!refused_ && !delivered_) ch_->unreserve();
  }

  void read(std::uint64_t, std::size_t, op_ptr<std::string> done) override {
    done->complete(make_error(errc::access, "send: write-only file"));
  }

  result<std::size_t> write(const caller&, std::uint64_t, std::string_view data) override {
    if (refused_) return *refused_;
    if (delivered_)
      return make_error(errc::bad_state,
                        "send: the message was delivered when a descriptor of it closed; "
                        "open send again for the next message");
    std::size_t max = ch_->max_message();
    if (msg_.size() + data.size() > max) {
      refused_ = make_error(errc::too_big, "send: message of " +
                                               std::to_string(msg_.size() + data.size()) +
                                               " bytes or more is over the limit of " +
                                               std::to_string(max) + " bytes");
      msg_.clear();
      msg_.shrink_to_fit();
      ch_->unreserve();
      return *refused_;
    }
    msg_.append(data);
    written_ = true;
    return data.size();
  }

  result<void> flush(const caller&) override {
    if (refused_) return *refused_;
    if (!written_ || delivered_) return {};
    delivered_ = true;
    return ch_->deliver(std::move(msg_));
  }

  void release() override {
    if (refused_ || delivered_) return;
    delivered_ = true;
    if (auto r = ch_->deliver(std::move(msg_)); !r) ch_->space().log("error: " + r.err().message);
  }

 private:
  std::shared_ptr<channel> ch_;
  std::string msg_;
  bool written_ = false;
  bool delivered_ = false;
  std::optional<error> refused_;
};

// An open of `recv`: holds a taken message until all of it has been read;
// if closed before that, the message goes back to the front.
class recv_handle final : public handle {
 public:
  recv_handle(std::shared_ptr<channel> ch, std::string msg)
      : ch_(std::move(ch)), msg_(std::move(msg)) {
    if (msg_.empty()) consume();
  }
  ~recv_handle() override { release(); }

  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    if (off >= msg_.size()) return done->complete(std::string());
    std::string part = msg_.substr(off, size);
    if (off + part.size() >= msg_.size()) consume();
    done->complete(std::move(part));
  }

  void release() override {
    if (consumed_) return;
    consumed_ = true;
    ch_->put_back(std::move(msg_));
  }

 private:
  void consume() {
    if (consumed_) return;
    consumed_ = true;
    ch_->consumed();
  }

  std::shared_ptr<channel> ch_;
  std::string msg_;
  bool consumed_ = false;
};

channel& as_channel(dir& d) { return static_cast<channel&>(d); }

bool blocking(const open_args& a) { return !(a.flags & O_NONBLOCK); }

const file_entry channel_files[] = {
    {.name = "cap",
     .help = "buffer size (read); write N to set it, once, before first use (default 0)",
     .read = [](dir& d, const caller&) { return as_channel(d).cap_text(); },
     .write = [](dir& d, const caller&, std::string_view t) { return as_channel(d).set_cap(t); }},
    {.name = "send",
     .help = "open to send: waits for a place; what you write is one message, "
             "delivered at close",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { as_channel(d).open_send(blocking(a), done); },
     .writable = true},
    {.name = "recv",
     .help = "open to receive: waits for a message; read it to the end to consume it",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { as_channel(d).open_recv(blocking(a), done); },
     .readable = true},
    {.name = "trysend",
     .help = "like send, but the open fails with EAGAIN instead of waiting",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { as_channel(d).open_send(false, done); },
     .writable = true},
    {.name = "tryrecv",
     .help = "like recv, but the open fails with EAGAIN instead of waiting",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { as_channel(d).open_recv(false, done); },
     .readable = true},
    {.name = "close",
     .help = "write \"close\": no more sends; receivers drain what is left, then get EPIPE",
     .write = [](dir& d, const caller&,
                 std::string_view t) { return as_channel(d).close_command(t); }},
    {.name = "stat",
     .help = "one JSON line: the stat fields below (read)",
     .read = [](dir& d, const caller&) { return as_channel(d).stat(); }},
};

using json = boost::json::value;

const stat_field<channel> channel_stat[] = {
    {"cap", "the buffer size", [](const channel& c) { return json(c.cap()); }},
    {"len", "messages in the buffer now", [](const channel& c) { return json(c.len()); }},
    {"closed", "true once \"close\" was written", [](const channel& c) { return json(c.closed()); }},
    {"senders_waiting", "opens of send waiting for a place",
     [](const channel& c) { return json(c.senders_waiting()); }},
    {"receivers_waiting", "opens of recv waiting for a message",
     [](const channel& c) { return json(c.receivers_waiting()); }},
    {"reserved", "places held by open sends that have not delivered yet",
     [](const channel& c) { return json(c.reserved()); }},
    {"sent", "messages delivered into the channel so far", [](const channel& c) { return json(c.sent()); }},
    {"received", "messages read to the end so far", [](const channel& c) { return json(c.received()); }},
};

}  // namespace

channel::channel(ns& space, dir* parent, std::string name) : dir(space, parent, std::move(name)) {}
channel::~channel() = default;

std::span<const file_entry> channel::files() const { return channel_files; }

std::string_view channel::about() const {
  return "A channel: a Go chan of byte strings, living in this host's circuitd.\n"
         "\n"
         "A send is an open of send (it waits for a free buffer slot, or for a\n"
         "receiver when the buffer is full), the writes, and the close that\n"
         "delivers the message; a failed delivery fails that close. A receive is\n"
         "an open of recv (it waits for a message) and reads to the end. A\n"
         "receiver that closes before the end puts the message back in front.\n"
         "Opening send or recv with O_NONBLOCK acts like trysend or tryrecv.";
}

std::string_view channel::example() const {
  return "  echo 2 > cap                  # buffer two messages\n"
         "  echo hello > send; echo world > send\n"
         "  cat recv; cat recv            # hello, then world\n"
         "  echo close > close; cat recv  # cat: recv: Broken pipe";
}

std::shared_ptr<channel> channel::self() {
  return std::static_pointer_cast<channel>(shared_from_this());
}

std::size_t channel::max_message() const { return space().cfg().max_message; }

void channel::retire() {
  if (removed_) return;
  removed_ = true;
  buf_.clear();
  error gone = make_error(errc::removed, "channel " + path() + " was removed");
  fail_all(senders_, gone);
  fail_all(receivers_, gone);
  space().forget(id());
}

result<void> channel::set_cap(std::string_view text) {
  if (used_)
    return make_error(errc::busy, "cap: already fixed at " + std::to_string(cap_) +
                                      " (set, or the channel was used); cap is set once, before first use");
  auto n = parse_count("cap", text, max_cap);
  if (!n) return n.err();
  cap_ = *n;
  used_ = true;
  pump();
  return {};
}

std::string channel::cap_text() const { return std::to_string(cap_) + "\n"; }

result<void> channel::close_command(std::string_view text) {
  auto words = split_words(text);
  if (words.size() != 1 || words[0] != "close")
    return make_error(errc::invalid, "close: write \"close\" to close the channel, not " +
                                         quote(words.empty() ? text : text.substr(0, text.find_last_not_of(" \t\r\n") + 1)));
  if (closed_) return {};
  closed_ = true;
  fail_all(senders_, make_error(errc::closed, "send: channel " + path() + " is closed"));
  pump();
  return {};
}

std::string channel::stat() const { return stat_json<channel>(channel_stat, *this); }

std::vector<stat_doc> channel::stat_fields() const { return stat_docs<channel>(channel_stat); }

void channel::open_send(bool block, op_ptr<handle_ptr> done) {
  used_ = true;
  if (removed_) return done->complete(make_error(errc::removed, "send: channel was removed"));
  if (closed_) return done->complete(make_error(errc::closed, "send: channel " + path() + " is closed"));
  if (can_reserve()) {
    ++reserved_;
    return done->complete(handle_ptr(std::make_unique<send_handle>(self())));
  }
  if (!block)
    return done->complete(make_error(
        errc::would_block, "trysend: channel " + path() +
                               (cap_ ? " is full" : " has no waiting receiver (cap 0)")));
  park(senders_, std::move(done));
}

void channel::open_recv(bool block, op_ptr<handle_ptr> done) {
  used_ = true;
  if (removed_) return done->complete(make_error(errc::removed, "recv: channel was removed"));
  if (!buf_.empty()) {
    std::string msg = std::move(buf_.front());
    buf_.pop_front();
    done->complete(handle_ptr(std::make_unique<recv_handle>(self(), std::move(msg))));
    pump();
    return;
  }
  if (closed_ && reserved_ == 0)
    return done->complete(make_error(errc::closed, "recv: channel " + path() + " is closed"));
  if (!block)
    return done->complete(make_error(errc::would_block, "tryrecv: channel " + path() + " is empty"));
  park(receivers_, std::move(done));
  pump();  // a parked receiver is a place for a parked sender (cap 0)
}

void channel::park(std::list<op_ptr<handle_ptr>>& q, op_ptr<handle_ptr> done) {
  auto it = q.insert(q.end(), done);
  done->on_cancel([this, &q, it, keep = self()] {
    q.erase(it);
    pump();  // a receiver leaving may leave a reserved place with no one
  });
}

void channel::fail_all(std::list<op_ptr<handle_ptr>>& q, const error& e) {
  auto waiting = std::move(q);
  q.clear();
  for (auto& w : waiting) w->complete(e);
}

void channel::give(op_ptr<handle_ptr> receiver, std::string msg) {
  receiver->complete(handle_ptr(std::make_unique<recv_handle>(self(), std::move(msg))));
}

result<void> channel::deliver(std::string msg) {
  --reserved_;
  if (removed_) return make_error(errc::removed, "send: channel " + path() + " was removed");
  ++sent_;
  if (!receivers_.empty()) {
    auto r = std::move(receivers_.front());
    receivers_.pop_front();
    give(std::move(r), std::move(msg));
  } else {
    buf_.push_back(std::move(msg));
  }
  pump();
  return {};
}

void channel::unreserve() {
  --reserved_;
  pump();
}

void channel::put_back(std::string msg) {
  if (removed_) return;
  buf_.push_front(std::move(msg));
  pump();
}

void channel::pump() {
  if (removed_) return;
  for (bool moved = true; moved;) {
    moved = false;
    while (!receivers_.empty() && !buf_.empty()) {
      auto r = std::move(receivers_.front());
      receivers_.pop_front();
      std::string msg = std::move(buf_.front());
      buf_.pop_front();
      give(std::move(r), std::move(msg));
      moved = true;
    }
    while (!senders_.empty() && can_reserve()) {
      auto s = std::move(senders_.front());
      senders_.pop_front();
      ++reserved_;
      s->complete(handle_ptr(std::make_unique<send_handle>(self())));
      moved = true;
    }
  }
  if (closed_ && buf_.empty() && reserved_ == 0)
    fail_all(receivers_, make_error(errc::closed, "recv: channel " + path() + " is closed"));
}

}  // namespace circuit
