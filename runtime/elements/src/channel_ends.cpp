#include "channel_ends.hpp"

#include "circuit/core/namespace.hpp"

namespace circuit {
namespace {

// An open of `send`. It holds a reserved place and the message written so
// far through it, by whichever processes hold its descriptors; the last
// close delivers (release), unless a holder died of a signal (abort), a
// write was refused, or fsync delivered already.
class send_end final : public handle {
 public:
  explicit send_end(std::shared_ptr<channel> ch) : ch_(std::move(ch)), msg_(ch_->new_message()) {}
  // Destroyed without a release (the open's reply never reached anyone, or
  // the daemon stops with it open): give the place back, deliver nothing.
  ~send_end() override {
    if (state_ == state::open) ch_->unreserve();
  }

  void read(std::uint64_t, std::size_t, op_ptr<std::string> done) override {
    done->complete(make_error(errc::access, "send: write-only file"));
  }

  result<std::size_t> write(const caller&, std::uint64_t, std::string_view data) override {
    if (state_ != state::open) return why_;
    std::size_t max = ch_->max_message();
    std::size_t size = msg_.size() + data.size();
    if (size > max)
      return end(state::refused, make_error(errc::too_big, "send: message of " + std::to_string(size) +
                                                               " bytes or more is over the limit of " +
                                                               std::to_string(max) + " bytes"));
    if (!msg_.append(data, max)) {
      const budget& b = ch_->memory();
      return end(state::refused,
                 make_error(errc::no_memory,
                            "send: message of " + std::to_string(size) +
                                " bytes or more would pass the daemon's memory limit of " +
                                std::to_string(b.limit()) + " bytes (circuitd --max-memory; " +
                                std::to_string(b.used()) +
                                " bytes held now); receive messages, or send less"));
    }
    return data.size();
  }

  // The first write of a message, taken whole (a 9P write of all of it):
  // its bytes become the message without a copy.
  void write_owned(const caller& who, std::uint64_t off, std::string& data, op_ptr<std::size_t> done) override {
    std::size_t n = data.size();
    if (state_ == state::open && n > 0 && n <= ch_->max_message() && msg_.adopt(data)) return done->complete(n);
    done->complete(write(who, off, data));
  }

  // A close(2) delivers nothing (the last one is release); it repeats a
  // refusal, so a shell that ignored the write's error still sees it.
  result<void> flush(const caller&) override {
    if (state_ == state::refused) return why_;
    return {};
  }

  std::optional<error> abort(const caller& who, std::string_view why) override {
    if (state_ != state::open) return std::nullopt;
    error e = end(state::aborted,
                  make_error(errc::bad_state,
                             "send: the message was aborted, nothing was delivered: " + std::string(why)));
    ch_->space().log("abort: " + e.message + " (pid " + std::to_string(who.pid) + ", " +
                     ch_->path() + ")");
    return e;
  }

  bool abortable() const override { return state_ == state::open; }

  result<void> sync(const caller&) override {
    if (state_ == state::open) return deliver();
    if (state_ == state::delivered) return {};
    return why_;
  }

  void release() override {
    if (state_ != state::open) return;
    if (auto r = deliver(); !r) ch_->space().log("error: " + r.err().message);
  }

 private:
  enum class state { open, delivered, refused, aborted };

  // The open makes no more message: `why` is what later writes get.
  error end(state s, error why) {
    state_ = s;
    why_ = why;
    msg_.drop();
    ch_->unreserve();
    return why;
  }

  result<void> deliver() {
    state_ = state::delivered;
    why_ = make_error(errc::bad_state,
                      "send: the message was delivered by fsync; open send again for the next message");
    auto r = ch_->deliver(std::move(msg_));
    if (!r) {
      state_ = state::refused;
      why_ = r.err();
    }
    return r;
  }

  std::shared_ptr<channel> ch_;
  message msg_;
  state state_ = state::open;
  error why_;  // what a write gets once the state is not open
};

// An open of `recv`: holds a taken message until all of it has been read;
// if closed before that, the message goes back to its place in the order.
class recv_end final : public handle {
 public:
  recv_end(std::shared_ptr<channel> ch, message msg, bool acknowledged)
      : ch_(std::move(ch)), msg_(std::move(msg)), acknowledged_(acknowledged) {
    if (msg_.size() == 0 && !acknowledged_) consume();
  }
  ~recv_end() override { release(); }

  // Once consumed the bytes are gone (and their memory given back): a read
  // after the end gives end of file.
  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    if (consumed_) return done->complete(std::string());
    if (off >= msg_.size()) {
      consume();  // past the end: the reader has had every byte
      return done->complete(std::string());
    }
    std::string part = msg_.bytes().substr(off, size);
    if (off + part.size() >= msg_.size()) {
      if (acknowledged_) given_all_ = true;
      else consume();
    }
    done->complete(std::move(part));
  }

  // A live close (9P clunk commits: flush, then sync): the reader that
  // had every byte has the message. A session's end aborts instead.
  result<void> flush(const caller&) override {
    if (given_all_ || (acknowledged_ && msg_.size() == 0)) consume();
    return {};
  }

  void release() override {
    if (consumed_) return;
    consumed_ = true;
    ch_->put_back(std::move(msg_));
  }

  // The message was taken before any removal: it is the receiver's to read.
  bool outlives_element() const override { return true; }

 private:
  void consume() {
    if (consumed_) return;
    consumed_ = true;
    msg_.drop();
    ch_->consumed();
  }

  std::shared_ptr<channel> ch_;
  message msg_;
  bool acknowledged_;
  bool given_all_ = false;  // acknowledged: every byte handed out, not yet owned
  bool consumed_ = false;
};

}  // namespace

handle_ptr make_send_end(std::shared_ptr<channel> ch) {
  return std::make_unique<send_end>(std::move(ch));
}

handle_ptr make_recv_end(std::shared_ptr<channel> ch, message msg, bool acknowledged) {
  return std::make_unique<recv_end>(std::move(ch), std::move(msg), acknowledged);
}

}  // namespace circuit
