#include "channel.hpp"
#include "lease.hpp"

#include <fcntl.h>

#include <optional>

#include "channel_ends.hpp"
#include "circuit/core/ctl.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/core/stat_table.hpp"

namespace circuit {
namespace {

channel& as_channel(dir& d) { return static_cast<channel&>(d); }

bool blocking(const open_args& a) { return !(a.flags & O_NONBLOCK); }

const file_entry channel_files[] = {
    {.name = "cap",
     .help = "buffer size (read); write N to set it, once, before first use (default 0)",
     .read = [](dir& d, const caller&) { return as_channel(d).cap_text(); },
     .write = [](dir& d, const caller&, std::string_view t) { return as_channel(d).set_cap(t); },
     .mode = 0640},
    {.name = "send",
     .help = "open to send: waits for a place; what you write through the open is one "
             "message, delivered at its last close (or by fsync)",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { as_channel(d).open_send(blocking(a), done); },
     .writable = true,
     .mode = 0220},
    {.name = "recv",
     .help = "open to receive: waits for a message; read it to the end to consume it",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { as_channel(d).open_recv(blocking(a), a.who.remote, done); },
     .readable = true,
     .mode = 0440},
    {.name = "trysend",
     .help = "like send, but the open fails with EAGAIN instead of waiting",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { as_channel(d).open_send(false, done); },
     .writable = true,
     .mode = 0220},
    {.name = "tryrecv",
     .help = "like recv, but the open fails with EAGAIN instead of waiting (it meets a "
             "sender that waits)",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { as_channel(d).open_recv(false, a.who.remote, done); },
     .readable = true,
     .mode = 0440},
    {.name = "close",
     .help = "write \"close\": no more sends; receivers drain what is left, then get EPIPE",
     .write = [](dir& d, const caller&,
                 std::string_view t) { return as_channel(d).close_command(t); },
     .mode = 0220},
    lease_entry,
    {.name = "stat",
     .help = "one JSON line: the stat fields below (read)",
     .read = [](dir& d, const caller&) { return as_channel(d).stat(); },
     .mode = 0440},
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
    {"held", "messages taken by receivers and not yet read to the end",
     [](const channel& c) { return json(c.held()); }},
    {"sent", "messages delivered into the channel so far", [](const channel& c) { return json(c.sent()); }},
    {"received", "messages read to the end so far", [](const channel& c) { return json(c.received()); }},
    {"uid", "the user id of its maker, who owns its files",
     [](const channel& c) { return json(c.maker().uid); }},
    {"gid", "the group id of its maker", [](const channel& c) { return json(c.maker().gid); }},
};

}  // namespace

channel::channel(ns& space, dir* parent, std::string name) : dir(space, parent, std::move(name)) {
  // A sender leaving may leave a try-receiver with nothing to wait for; a
  // receiver leaving may leave a reserved place with no one.
  senders_.on_leave = [this](completions&, auto&) { pump(); };
  receivers_.on_leave = [this](completions&, auto&) { pump(); };
}
channel::~channel() = default;

std::span<const file_entry> channel::files() const { return channel_files; }

std::string_view channel::about() const {
  return "A channel: a Go chan of byte strings, living in this host's circuitd.\n"
         "\n"
         "A send is an open of send (it waits for a free buffer slot, or for a\n"
         "receiver when the buffer is full), the writes, and the last close of\n"
         "that open, which delivers the message: everything written through the\n"
         "open, by every process holding it. Failures come at the open or the\n"
         "write; fsync delivers at once and returns the verdict. A holder that\n"
         "dies of a signal aborts the message. A receive is an open of recv (it\n"
         "waits for a message) and reads to the end. A receiver that closes\n"
         "before the end puts the message back at its place in the order.\n"
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

budget& channel::memory() { return space().memory(); }

void channel::retire() {
  if (removed_) return;
  completions batch;
  removed_ = true;
  buf_.clear();  // gives the messages' memory back
  error gone = make_error(errc::removed, "channel " + path() + " was removed");
  senders_.wake_all(batch, [&](no_data&) { return gone; });
  receivers_.wake_all(batch, [&](receiver&) { return gone; });
  space().forget(id());
}
result<void> channel::set_cap(std::string_view text) {
  completions batch;
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
  completions batch;
  closed_ = true;
  error e = make_error(errc::closed, "send: channel " + path() + " is closed");
  senders_.wake_all(batch, [&](no_data&) { return e; });
  pump();
  return {};
}

std::string channel::stat() const { return stat_json<channel>(channel_stat, *this); }

std::vector<stat_doc> channel::stat_fields() const { return stat_docs<channel>(channel_stat); }

void channel::open_send(bool block, op_ptr<handle_ptr> done) {
  completions batch;
  used_ = true;
  if (removed_) return done->complete(make_error(errc::removed, "send: channel was removed"));
  if (closed_) return done->complete(make_error(errc::closed, "send: channel " + path() + " is closed"));
  if (const budget& b = memory(); b.used() >= b.limit())
    return done->complete(make_error(
        errc::no_memory, "send: the daemon's memory for messages is spent: " +
                             std::to_string(b.used()) + " bytes held, the limit is " +
                             std::to_string(b.limit()) +
                             " (circuitd --max-memory); receive messages, then send again"));
  if (can_reserve()) {
    ++reserved_;
    return batch.add(done, make_send_end(self()));
  }
  if (!block)
    return done->complete(make_error(
        errc::would_block, "trysend: channel " + path() +
                               (cap_ ? " is full" : " has no waiting receiver (cap 0)")));
  senders_.park(std::move(done));
}

// A try-receive parks only to meet a sender that waits (Go's rule: a
// non-blocking receive succeeds when a sender is ready); its parking gives
// that sender a place.
void channel::open_recv(bool block, bool acknowledged, op_ptr<handle_ptr> done) {
  completions batch;
  used_ = true;
  if (removed_) return done->complete(make_error(errc::removed, "recv: channel was removed"));
  if (!buf_.empty()) {
    give(batch, std::move(done), take_front(), acknowledged);
    pump();
    return;
  }
  if (ended()) return done->complete(make_error(errc::closed, "recv: channel " + path() + " is closed"));
  if (!block && senders_.empty())
    return done->complete(make_error(errc::would_block, "tryrecv: channel " + path() +
                                                            " is empty and no sender waits"));
  receivers_.park(std::move(done), receiver{!block, acknowledged});
  pump();  // a parked receiver is a place for a parked sender (cap 0)
}

message channel::take_front() {
  message m = std::move(buf_.begin()->second);
  buf_.erase(buf_.begin());
  return m;
}

void channel::give(completions& batch, op_ptr<handle_ptr> receiver, message msg, bool acknowledged) {
  ++held_;
  batch.add(receiver, make_recv_end(self(), std::move(msg), acknowledged));
}

void channel::give_front(completions& batch, message msg) {
  auto w = receivers_.take_front();
  give(batch, std::move(w.op), std::move(msg), w.data.acknowledged);
}

result<void> channel::deliver(message msg) {
  completions batch;
  --reserved_;
  if (removed_) return make_error(errc::removed, "send: channel " + path() + " was removed");
  msg.seal();
  msg.seq = ++sent_;
  if (!receivers_.empty())
    give_front(batch, std::move(msg));
  else
    buf_.emplace_hint(buf_.end(), msg.seq, std::move(msg));
  pump();
  return {};
}

void channel::unreserve() {
  completions batch;
  --reserved_;
  pump();
}

void channel::put_back(message msg) {
  completions batch;
  --held_;
  if (removed_) return;
  buf_.emplace(msg.seq, std::move(msg));
  pump();
}

void channel::consumed() {
  completions batch;
  --held_;
  ++received_;
  pump();  // the last held message of a closed channel: its end
}

void channel::pump() {
  if (removed_) return;
  completions batch;
  for (bool moved = true; moved;) {
    moved = false;
    while (!receivers_.empty() && !buf_.empty()) {
      give_front(batch, take_front());
      moved = true;
    }
    while (!senders_.empty() && can_reserve()) {
      ++reserved_;
      senders_.wake_front(batch, make_send_end(self()));
      moved = true;
    }
  }
  give_up_tries(batch);
  if (ended()) {
    error e = make_error(errc::closed, "recv: channel " + path() + " is closed");
    receivers_.wake_all(batch, [&](receiver&) { return e; });
  }
}

// A try-receiver waits only while something may still come to it: the
// messages buffered, the places reserved and the senders parked, served to
// receivers in order, must reach as far as its place in the queue.
void channel::give_up_tries(completions& batch) {
  std::size_t supply = buf_.size() + reserved_ + senders_.size(), ahead = 0;
  receivers_.wake_if(batch, [&](const receiver& r) -> std::optional<result<handle_ptr>> {
    if (r.try_ && ahead >= supply)
      return result<handle_ptr>(
          make_error(errc::would_block, "tryrecv: channel " + path() + " is empty and no sender waits"));
    ++ahead;
    return std::nullopt;
  });
}

}  // namespace circuit
