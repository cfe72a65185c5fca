// client.cpp — tags, the write queue, the read loop, deadlines and drops.
#include "circuit/wire/client.hpp"

#include <cstring>

#include <boost/asio/post.hpp>

#include "circuit/core/errno_map.hpp"
#include "circuit/wire/turn.hpp"

namespace circuit::wire {

namespace asio = boost::asio;

namespace {
// Why the connection ended, for the requests it ends.
error lost(boost::system::error_code ec, const std::string& why) {
  return make_error(ec == asio::error::timed_out ? errc::timed_out : errc::host_unreachable,
                    "9p: connection lost: " + why);
}
}  // namespace

client::client(asio::any_io_executor ex, std::unique_ptr<transport> t, options opts)
    : ex_(std::move(ex)),
      transport_(std::move(t)),
      msize_(opts.msize),
      deadline_(opts.deadline),
      on_drop_(std::move(opts.on_drop)),
      sent_by_owner_(opts.sent_by_owner),
      lost_(std::move(opts.lost)),
      read_buf_(64 * 1024) {}

client::~client() = default;

std::shared_ptr<client> client::make(asio::any_io_executor ex, std::unique_ptr<transport> t,
                                     options opts) {
  std::shared_ptr<client> c(new client(std::move(ex), std::move(t), opts));
  c->start_read();
  return c;
}

std::uint32_t client::new_fid() {
  if (!free_fids_.empty()) {
    std::uint32_t fid = free_fids_.back();
    free_fids_.pop_back();
    return fid;
  }
  return next_fid_++;
}

void client::release_fid(std::uint32_t fid) { free_fids_.push_back(fid); }

std::uint16_t client::request(tmessage m, handler<rmessage> done) {
  std::uint16_t tag = std::holds_alternative<tversion>(m) ? notag : free_tag();
  if (tag == notag && !std::holds_alternative<tversion>(m)) {
    post_error(std::move(done), make_error(errc::busy, "9p: every tag is in flight"));
    return notag;
  }
  return send(tag, m, std::move(done));
}

// Tags go round from 0, skipping notag and those still in flight, so a tag
// is reused as late as can be.
std::uint16_t client::free_tag() {
  for (int tries = 0; tries < 0x10000; ++tries) {
    std::uint16_t tag = next_tag_++;
    if (tag != notag && !pending_.count(tag)) return tag;
  }
  return notag;
}

std::uint16_t client::send(std::uint16_t tag, const tmessage& m, handler<rmessage> done) {
  if (dropped_) {
    post_error(std::move(done), lost_ ? *lost_ : make_error(errc::host_unreachable, "9p: not connected"));
    return notag;
  }
  std::size_t before = queued_.size();
  encode_to(queued_, tag, m);
  if (queued_.size() - before > msize_) {
    std::size_t n = queued_.size() - before;
    queued_.resize(before);
    post_error(std::move(done), make_error(errc::too_big, "9p: " +
                                                              std::string(mtype_name(type_code(m))) +
                                                              " of " + std::to_string(n) +
                                                              " bytes is over msize " +
                                                              std::to_string(msize_)));
    return notag;
  }
  auto& p = pending_[tag];
  p.done = std::move(done);
  if (deadline_ != duration::zero()) {
    p.deadline = std::chrono::steady_clock::now() + deadline_;
    arm_sweep(p.deadline);
  }
  last_tag_ = tag;
  // Requests made in one turn of the loop (a pipelined walk, lopen, write
  // and clunk) leave in one write, so the server reads them as one batch.
  // (At the end of the handler's turn when it opened one: turn.hpp.)
  if (sent_by_owner_ && !turn::open()) return tag;  // write_queued() sends it
  if (!write_posted_) {
    write_posted_ = true;
    auto later = [self = shared_from_this()] {
      self->write_posted_ = false;
      self->start_write();
    };
    if (turn::open()) turn::at_end(std::move(later));
    else asio::post(ex_, std::move(later));
  }
  return tag;
}

void client::write_queued() {
  if (!write_posted_) start_write();
}

void client::start_write() {
  if (write_busy_ || queued_.empty() || dropped_) return;
  writing_.swap(queued_);
  queued_.clear();
  write_busy_ = true;
  transport_->async_write(asio::buffer(writing_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                            self->write_busy_ = false;
                            self->writing_.clear();
                            if (ec) return self->drop(lost(ec, ec.message()));
                            self->start_write();
                          });
}

void client::start_read() {
  if (dropped_ || reading_) return;
  reading_ = true;
  transport_->async_read_some(
      asio::buffer(read_buf_),
      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        turn t;  // what the replies' handlers write leaves at its end, together
        self->reading_ = false;
        if (ec) {
          return self->drop(
              lost(ec, ec == asio::error::eof ? "the server closed the connection" : ec.message()));
        }
        self->on_frames(std::string_view(self->read_buf_.data(), n));
        // A stream of large replies: read more at once, so that most
        // frames are decoded where they were read.
        if (n == self->read_buf_.size() && n < 256 * 1024) self->read_buf_.resize(256 * 1024);
        self->start_read();
      });
}

// Whole frames are decoded from `bytes` where they lie; only the start
// of a frame is kept in inbox_ for the next read.
void client::on_frames(std::string_view bytes) {
  std::string_view all = bytes;
  if (!inbox_.empty()) {
    inbox_.append(bytes);
    all = inbox_;
  }
  std::size_t at = 0;
  while (!dropped_) {
    std::string_view rest = all.substr(at);
    auto size = next_frame_size(rest, msize_);
    if (!size) return drop(size.err());
    if (*size == 0 || rest.size() < *size) break;
    auto f = decode_r(rest.substr(0, *size), msize_);
    at += *size;
    if (!f) return drop(f.err());
    on_reply(f->tag, std::move(f->message));
  }
  if (dropped_) return;
  if (all.data() == inbox_.data()) inbox_.erase(0, at);
  else inbox_.assign(all.substr(at));
}

void client::on_reply(std::uint16_t tag, rmessage m) {
  auto it = pending_.find(tag);
  if (it == pending_.end()) return;  // nobody asked: ignore it
  handler<rmessage> done = std::move(it->second.done);
  it->second.done = nullptr;
  // A tag being flushed stays taken until its Rflush (flush() frees it).
  if (!it->second.flushing) pending_.erase(it);
  else it->second.deadline = {};
  if (!done) return;  // timed out already: the late reply is dropped
  if (auto* e = std::get_if<rlerror>(&m)) {
    int no = int(e->ecode);
    return done(make_error(from_errno(no), std::strerror(no)));
  }
  done(std::move(m));
}

// The deadline passed: the request fails now, and the server is asked to
// forget it, so its tag stays taken until the Rflush.
void client::expire(std::uint16_t tag) {
  auto it = pending_.find(tag);
  if (it == pending_.end() || !it->second.done) return;
  auto done = std::move(it->second.done);
  it->second.done = nullptr;
  done(make_error(errc::timed_out, "9p: no reply within the deadline"));
  if (tag != notag && !dropped_) flush(tag, [](result<void>) {});
}

void client::arm_sweep(time_point at) {
  if (sweep_at_ != time_point{} && sweep_at_ <= at) return;  // it fires first; sweep() arms again
  if (!sweep_) sweep_ = std::make_unique<asio::steady_timer>(ex_);
  sweep_at_ = at;
  sweep_->expires_at(at);  // cancels a later wait, if any
  sweep_->async_wait([self = shared_from_this(), at](boost::system::error_code ec) {
    if (ec || self->sweep_at_ != at) return;  // cancelled, or re-armed earlier
    self->sweep_at_ = {};
    self->sweep();
  });
}

void client::sweep() {
  if (dropped_) return;
  auto now = std::chrono::steady_clock::now();
  std::vector<std::uint16_t> due;
  time_point next{};
  for (auto& [tag, p] : pending_) {
    if (p.deadline == time_point{} || !p.done) continue;
    if (p.deadline <= now) due.push_back(tag);
    else if (next == time_point{} || p.deadline < next) next = p.deadline;
  }
  for (auto tag : due) expire(tag);  // each may issue a flush (without a deadline)
  if (next != time_point{}) arm_sweep(next);
}

void client::interrupt_all() {
  std::vector<std::uint16_t> tags;
  for (auto& [tag, p] : pending_)
    if (p.done && !p.flushing) tags.push_back(tag);
  for (auto tag : tags) flush(tag, [](result<void>) {});
}

void client::flush(std::uint16_t oldtag, handler<void> done) {
  auto it = pending_.find(oldtag);
  if (it != pending_.end()) it->second.flushing = true;
  // The flush itself has no deadline: the old tag must stay taken until
  // the server says it is done with it.
  auto keep = deadline_;
  deadline_ = duration::zero();
  request(tflush{oldtag}, [self = shared_from_this(), oldtag, done](result<rmessage> r) {
    auto it = self->pending_.find(oldtag);
    if (it != self->pending_.end() && it->second.flushing) {
      auto old = std::move(it->second.done);
      self->pending_.erase(it);
      if (old) old(make_error(errc::interrupted, "9p: request flushed"));
    }
    if (!r) return done(r.err());
    if (!std::holds_alternative<rflush>(*r))
      return done(make_error(errc::invalid, "9p: an answer to Tflush that is not Rflush"));
    done(result<void>{});
  });
  deadline_ = keep;
}

void client::post_error(handler<rmessage> done, error e) {
  asio::post(ex_, [done = std::move(done), e = std::move(e)]() mutable { done(std::move(e)); });
}

void client::drop(error why) {
  if (dropped_) return;
  dropped_ = true;
  transport_->close();
  if (sweep_) sweep_->cancel();  // it holds the client
  auto gone = std::move(pending_);
  pending_.clear();
  for (auto& [tag, p] : gone)
    if (p.done) post_error(std::move(p.done), lost_ ? *lost_ : why);
  // Told after the requests, on the loop: a handler may drop the client.
  if (on_drop_) asio::post(ex_, [f = std::move(on_drop_), why]() { f(why); });
}

void client::close() {
  drop(make_error(errc::host_unreachable, "9p: connection closed by the client"));
}

}  // namespace circuit::wire
