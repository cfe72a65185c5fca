#include "worker.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>

#include "child.hpp"
#include "circuit/core/namespace.hpp"
#include "host.hpp"
#include "mount_point.hpp"
#include "signals.hpp"
#include "workers.hpp"

namespace circuit {

const char* state_name(worker::state s) {
  switch (s) {
    case worker::state::fresh: return "new";
    case worker::state::running: return "running";
    case worker::state::exited: return "exited";
    case worker::state::signaled: return "signaled";
  }
  return "?";
}

worker::worker(ns& space, dir* parent, std::string name)
    : dir(space, parent, std::move(name)), grace_(space.cfg().grace) {}

worker::~worker() {
  if (child_) child_->owner.reset();
  space().memory().give(result_.size());
}

std::string_view worker::about() const {
  return "A worker: an OS process run and watched by this host's circuitd.\n"
         "\n"
         "Write a JSON spec to start it (only \"path\" is required). Its output\n"
         "waits in stdout and stderr (bounded: a process nobody reads blocks);\n"
         "wait blocks until it ends and gives its status. Signals, kill and stop\n"
         "reach every process it started, also one that left its session, while\n"
         "any lives (stat's \"procs\" counts them). rmdir removes an ended worker\n"
         "and kills what is left of it; a running one is busy.";
}

std::string_view worker::example() const {
  return "  echo '{\"path\":\"/bin/ls\",\"args\":[\"-l\",\"/\"]}' > spec\n"
         "  cat stdout\n"
         "  cat wait                     # {\"exit\":0}";
}

void worker::kick() const {
  if (space().cfg().uv_kick) space().cfg().uv_kick();
}

result<void> worker::start(spec s) {
  if (state_ != state::fresh)
    return make_error(errc::busy, "spec: worker " + path() + " was started already; make a new one");
  if (static_cast<workers*>(parent())->stopping())
    return make_error(errc::busy, "spec: circuitd is stopping; nothing new starts");
  // A binary of the store runs from its file there, which it holds (as a
  // user: not evicted) while its processes live.
  bin_use held;
  if (!s.binary.empty()) {
    auto u = static_cast<host*>(parent()->parent())->store().use(s.binary);
    if (!u) return u.err();
    s.path = u->path();
    held = std::move(*u);
  }
  if (auto ok = check_spec(s); !ok) return ok;
  if (!space().cfg().uv) return make_error(errc::io, "spec: this daemon runs no processes");
  auto c = process::spawn(*this, s, space().cfg().uv);
  if (!c) return c.err();
  binary_ = std::move(held);
  child_ = *c;
  pid_ = child_->pid;
  state_ = state::running;
  stdin_open_ = true;
  if (eof_early_) (void)close_stdin();
  started_ = space().clock().wall();
  spec_ = std::move(s);
  // A reader made room: read the pipe again (output is a member, so
  // `this` outlives the call).
  out_.on_room = [this] {
    if (!child_) return;
    child_->resume(true);
    kick();
  };
  err_.on_room = [this] {
    if (!child_) return;
    child_->resume(false);
    kick();
  };
  kick();
  return {};
}

void worker::set_outcome(std::string bytes) {
  space().memory().give(result_.size());
  result_ = std::move(bytes);
}

std::string worker::spec_text() const { return spec_ ? to_json(*spec_) : std::string(); }

std::string worker::wait_text() const {
  boost::json::object o;
  if (state_ == state::signaled)
    o["signal"] = signal_name(term_signal_);
  else
    o["exit"] = exit_status_;
  return boost::json::serialize(o) + "\n";
}

void worker::open_wait(bool block, op_ptr<handle_ptr> done) {
  if (state_ == state::exited || state_ == state::signaled)
    return done->complete(make_result_handle(wait_text()));
  if (!block)
    return done->complete(make_error(
        errc::would_block, "trywait: worker " + path() + " is " + state_name(state_)));
  waiters_.park(std::move(done));
}

// The directories a program serves, in its tree and here.
constexpr const char* served_dirs[] = {"goroutines", "files"};

result<void> worker::serve(const std::string& socket) {
  if (state_ != state::running)
    return make_error(errc::no_process, "serve: worker " + path() + " is " + state_name(state_));
  if (dialing_ || !served_.empty()) return make_error(errc::busy, "serve: worker " + path() + " serves already");
  if (!space().cfg().dial) return make_error(errc::not_supported, "serve: this daemon makes no mounts");
  // The daemon connects as root: only to a socket of the worker's own user.
  // The socket is held (O_PATH) from the check to the connect, which goes
  // through /proc/self/fd: a path changed in between (a link swapped in)
  // cannot take the daemon to another user's socket.
  struct stat st {};
  int fd = socket.empty() || socket[0] != '/'
               ? -1
               : ::open(socket.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    return make_error(errc::invalid, "serve: " + socket + " is not the absolute path of a socket");
  }
  if (maker().uid != 0 && st.st_uid != maker().uid) {
    ::close(fd);
    return make_error(errc::access, "serve: " + socket + " belongs to uid " + std::to_string(st.st_uid) +
                                        ", not to the worker's user " + std::to_string(maker().uid));
  }
  dialing_ = true;
  std::weak_ptr<dir> self = weak_from_this();
  std::vector<std::string> tops(std::begin(served_dirs), std::end(served_dirs));
  std::string held = "/proc/self/fd/" + std::to_string(fd);
  space().cfg().dial(socket, held, path(), tops, [self, socket](result<config::remotes> r) {
    auto d = self.lock();
    if (!d) return;
    auto& w = static_cast<worker&>(*d);
    w.dialing_ = false;
    if (!r) return w.space().log("serve: worker " + w.path() + ": " + r.err().message);
    if (w.state_ != state::running) return;
    for (std::size_t i = 0; i < r->size(); ++i) {
      w.served_.push_back(std::make_shared<mount_point>(w.space(), &w, served_dirs[i], (*r)[i]));
      w.space().entry_changed(w, served_dirs[i]);
    }
    w.space().log("serve: worker " + w.path() + " shows the files of its program at " + socket);
  });
  ::close(fd);  // dial connected before it returned
  return {};
}

void worker::unserve() {
  auto gone = std::move(served_);
  served_.clear();
  for (auto& d : gone) space().entry_changed(*this, d->name());
}

dir* worker::child(std::string_view name) {
  for (auto& d : served_)
    if (d->name() == name) return d.get();
  return nullptr;
}

std::vector<dir*> worker::children() {
  std::vector<dir*> out;
  for (auto& d : served_) out.push_back(d.get());
  return out;
}

void worker::on_exit(std::int64_t status, int term_signal) {
  completions batch;
  unserve();
  state_ = term_signal ? state::signaled : state::exited;
  exit_status_ = status;
  term_signal_ = term_signal;
  stdin_open_ = false;
  space().events().append("exit " + path());
  waiters_.wake_all(batch, [&](no_data&) { return make_result_handle(wait_text()); });
}

// While any process of the worker lives, also after the leader's end, a
// signal reaches all of them.
result<void> worker::signal(int sig) {
  if (!live() || !child_->signal(sig))
    return make_error(errc::no_process, "signal: worker " + path() + " is " + state_name(state_) +
                                            (state_ == state::fresh ? "" : " and no process of it is left"));
  kick();
  return {};
}

result<void> worker::stop(double grace) {
  if (auto r = signal(SIGTERM); !r) return r;
  child_->arm_kill(grace);
  kick();
  return {};
}

bool worker::live() const { return child_ && child_->alive(); }
std::size_t worker::procs() const { return child_ ? child_->procs() : 0; }
std::size_t worker::stdin_buffered() const { return child_ ? child_->held() : 0; }
bool worker::killed_late() const { return child_ && child_->killed_late; }

void worker::end_now() {
  if (live()) child_->end_now();
}

void worker::keep() {
  if (child_) child_->keep();
}

void worker::on_gone() {
  binary_.release();
  if (auto* ws = static_cast<workers*>(parent())) ws->worker_gone(*this);
}

result<void> worker::close_stdin() {
  if (state_ == state::fresh) eof_early_ = true;
  if (!stdin_open_) return {};
  stdin_open_ = false;
  if (child_) child_->close_stdin();
  kick();
  return {};
}

void worker::write_stdin(std::string_view data, op_ptr<std::size_t> done) {
  if (!stdin_open_ || !child_)
    return done->complete(make_error(errc::closed, "stdin: worker " + path() + " takes no more input (" +
                                                       (state_ == state::fresh ? "not started" : "closed") + ")"));
  child_->write(data, std::move(done));
  kick();
}

void worker::retire() {
  completions batch;
  unserve();
  error gone = make_error(errc::removed, "worker " + path() + " was removed");
  waiters_.wake_all(batch, [&](no_data&) { return gone; });
  out_.stop(gone);
  err_.stop(gone);
  // What is left of the worker goes with it (the daemon's stop has ended
  // or kept its processes before). Output nobody will read: close the
  // pipes so no descriptor stays behind.
  if (child_) {
    child_->kill_all();
    child_->close_all();
    kick();
  }
  space().forget(id());
}

}  // namespace circuit
