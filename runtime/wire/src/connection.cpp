// connection.cpp — reading requests, serving them, writing the replies.
#include "circuit/wire/connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

#include "circuit/wire/codec.hpp"
#include "circuit/wire/turn.hpp"

namespace circuit::wire {

namespace asio = boost::asio;

std::shared_ptr<connection> connection::start(ns& space, caller peer,
                                              std::unique_ptr<transport> stream,
                                              gone_handler gone) {
  auto c = std::make_shared<connection>(space, std::move(peer), std::move(stream), std::move(gone));
  c->read();
  return c;
}

connection::connection(ns& space, caller peer, std::unique_ptr<transport> stream, gone_handler gone)
    : stream_(std::move(stream)), gone_(std::move(gone)) {
  srv_ = std::make_unique<server>(space, std::move(peer),
                                  [this](std::uint16_t tag, const rmessage& m) { queue(tag, m); });
  srv_->hold_when([this] { return full(); });
}

void connection::read() {
  reading_ = true;
  stream_->async_read_some(
      asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        turn t;  // requests the frames forward to a member leave at its end, together
        self->reading_ = false;
        self->bytes_read_ += n;
        if (ec && !self->closed_ && self->srv_->buffered() > 0)
          return self->end(make_error(errc::io, "the stream ended inside a frame, after " +
                                                    std::to_string(self->srv_->buffered()) + " bytes of it (" +
                                                    ec.message() + ")"));
        if (ec) return self->close();
        if (!self->feed(std::string_view(self->buf_.data(), n))) return;
        if (n == self->buf_.size() && n < 256 * 1024) self->buf_.resize(256 * 1024);
        if (!self->full()) self->read();  // else a write's completion resumes
      });
}

// The replies a batch of requests gets at once go out in one write: a
// pipelined walk+lopen+write+clunk is one read and one write here, and
// one wakeup of the client.
bool connection::feed(std::string_view bytes) {
  corked_ = true;
  auto r = srv_->feed(bytes);
  corked_ = false;
  if (!r) {
    end(r.err());
    return false;
  }
  if (!writing_ && !pending_.empty()) write();
  return true;
}

// After a write: requests held back while replies were over the bound
// are served, then reading goes on.
void connection::resume() {
  if (closed_ || reading_ || full()) return;
  if (!feed({})) return;
  if (!full()) read();
}

// Replies queue while one write is out, or while a batch is being
// served; the next write takes all of them. A reply that comes on its
// own (from a file that waited, or a member's answer) goes at the end of
// this turn of the loop (turn.hpp), with the others that come in it: a
// forwarded walk, lopen, write and clunk answered together go back in
// one write, not one and then the rest.
void connection::queue(std::uint16_t tag, const rmessage& m) {
  if (closed_) return;
  encode_to(pending_, tag, m);
  if (writing_ || corked_ || write_posted_) return;
  write_posted_ = true;
  auto later = [self = shared_from_this()] {
    self->write_posted_ = false;
    if (!self->closed_ && !self->writing_ && !self->pending_.empty()) self->write();
  };
  if (turn::open()) turn::at_end(std::move(later));
  else asio::post(stream_->get_executor(), std::move(later));
}

void connection::write() {
  writing_ = true;
  out_.swap(pending_);  // each keeps its capacity: replies are encoded without regrowing
  pending_.clear();
  stream_->async_write(asio::buffer(out_),
                       [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                         self->writing_ = false;
                         if (ec) return self->close();
                         if (self->out_.capacity() > max_unsent) std::string().swap(self->out_);
                         else self->out_.clear();
                         if (!self->pending_.empty()) self->write();
                         self->resume();
                       });
}

void connection::end(std::optional<error> why) {
  if (closed_) return;
  closed_ = true;
  srv_.reset();
  stream_->close();
  if (gone_) gone_(this, std::move(why));
}

}  // namespace circuit::wire
