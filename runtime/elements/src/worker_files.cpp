// The files of a worker: the handles of spec, stdin, stdout and stderr,
// its ctl verbs, the table that dispatches its files and writes its help,
// and the table of its stat. What the worker does is worker.cpp.
#include "worker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <optional>

#include "circuit/core/ctl.hpp"
#include "circuit/core/namespace.hpp"
#include "lease.hpp"
#include "proc_stat.hpp"
#include "signals.hpp"
#include "circuit/core/stat_table.hpp"

namespace circuit {

// An open of `spec` for writing: a spec may arrive in several writes (the
// kernel cuts big ones); it is applied at the write that completes the JSON
// document, and a close that leaves it incomplete fails.
class spec_handle final : public handle {
 public:
  spec_handle(std::shared_ptr<worker> w, std::string text) : w_(std::move(w)), text_(std::move(text)) {}

  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    done->complete(off >= text_.size() ? std::string() : text_.substr(off, size));
  }

  result<std::size_t> write(const caller&, std::uint64_t, std::string_view data) override {
    std::string& pending = pending_;
    // The newline after a spec may come in a write of its own.
    if (pending.empty() && data.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return data.size();
    if (pending.size() + data.size() > max_spec_bytes) {
      pending.clear();
      return make_error(errc::too_big, "bad spec: over the limit of " +
                                           std::to_string(max_spec_bytes) + " bytes");
    }
    pending.append(data);
    auto s = parse_spec(pending);
    if (!s && s.err().code == errc::would_block) return data.size();  // more to come
    pending.clear();
    if (!s) return s.err();
    if (auto r = w_->start(std::move(*s)); !r) return r.err();
    return data.size();
  }

  result<void> flush(const caller&) override {
    if (pending_.empty()) return {};
    pending_.clear();
    return make_error(errc::invalid, "bad spec: incomplete JSON");
  }

 private:
  std::shared_ptr<worker> w_;
  std::string text_;
  std::string pending_;  // a spec arriving in several writes of this open
};

namespace {

worker& as_worker(dir& d) { return static_cast<worker&>(d); }
std::shared_ptr<worker> shared(dir& d) {
  return std::static_pointer_cast<worker>(d.shared_from_this());
}

class output_handle final : public handle {
 public:
  output_handle(std::shared_ptr<worker> w, bool is_out) : w_(std::move(w)), out_(is_out) {}
  void read(std::uint64_t, std::size_t size, op_ptr<std::string> done) override {
    pipe().read(size, std::move(done));
  }
  bool readable_now() const override { return pipe().readable(); }
  void wake_when_readable(std::function<void()> wake) override {
    wake_ = make_wake(std::move(wake));
    pipe().watch(wake_);
  }

 private:
  output& pipe() const { return out_ ? w_->out() : w_->err(); }

  std::shared_ptr<worker> w_;
  bool out_;
  wake_ptr wake_;
};

class stdin_handle final : public handle {
 public:
  explicit stdin_handle(std::shared_ptr<worker> w) : w_(std::move(w)) {}
  void read(std::uint64_t, std::size_t, op_ptr<std::string> done) override {
    done->complete(make_error(errc::access, "stdin: write-only file"));
  }
  void write_async(const caller&, std::uint64_t, std::string_view data,
                   op_ptr<std::size_t> done) override {
    w_->write_stdin(data, std::move(done));
  }

 private:
  std::shared_ptr<worker> w_;
};

// An open of `result`. Reads see the result as it was at the open. What an
// open for writing writes replaces the result at its last close (or its
// fsync), whole: a writer that dies mid-write leaves the result as it was.
// Bytes held count against the daemon's memory budget.
class result_handle final : public handle {
 public:
  result_handle(std::shared_ptr<worker> w, bool writing)
      : w_(std::move(w)), text_(w_->outcome()), writing_(writing) {}
  ~result_handle() override { w_->space().memory().give(pending_.size()); }

  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    done->complete(off >= text_.size() ? std::string() : text_.substr(off, size));
  }

  // A refused write spoils the open: its close leaves the result as it was,
  // and fails again with the refusal's words (the close's error is the
  // last one `error` shows).
  result<std::size_t> write(const caller&, std::uint64_t off, std::string_view data) override {
    auto r = append(off, data);
    if (!r && !spoiled_) spoiled_ = r.err();
    return r;
  }

  // fsync, and every close(2) (the kernel's release of the last one comes
  // later, unawaited: a read right after close must find the bytes): the
  // result is what was written so far (a copy: writes go on).
  result<void> flush(const caller& who) override { return sync(who); }
  result<void> sync(const caller&) override {
    if (!writing_) return {};
    if (spoiled_) return spoiled();
    if (!take(pending_.size())) return full();
    w_->set_outcome(pending_);
    return {};
  }
  std::optional<error> abort(const caller&, std::string_view why) override {
    if (spoiled_) return std::nullopt;
    spoiled_ = make_error(errc::invalid, "result: " + std::string(why));
    return spoiled_;
  }
  bool abortable() const override { return writing_ && !spoiled_; }
  // The last close: the bytes, and what they hold of the budget, go to the worker.
  void release() override {
    if (writing_ && !spoiled_) w_->set_outcome(std::exchange(pending_, std::string()));
  }

 private:
  result<std::size_t> append(std::uint64_t off, std::string_view data) {
    if (spoiled_) return spoiled();
    if (off != pending_.size())
      return make_error(errc::invalid, "result: writes must be in order (at offset " +
                                           std::to_string(pending_.size()) + ", not " +
                                           std::to_string(off) + ")");
    std::size_t max = w_->space().cfg().max_message;
    if (data.size() > max - pending_.size())
      return make_error(errc::too_big, "result: over the limit of " + std::to_string(max) +
                                           " bytes (the host's max_message)");
    if (!take(data.size())) return full();
    pending_.append(data);
    return data.size();
  }
  bool take(std::size_t n) { return w_->space().memory().take(n); }
  error spoiled() const {
    return make_error(spoiled_->code, spoiled_->message + "; nothing of this open is kept");
  }
  static error full() {
    return make_error(errc::no_memory, "result: circuitd holds its --max-memory of bytes now");
  }

  std::shared_ptr<worker> w_;
  std::string text_;
  std::string pending_;
  bool writing_;          // opened for writing
  std::optional<error> spoiled_;  // a write was refused, or its writer died: why
};

const verb worker_verbs[] = {
    {"kill", 0, "kill", "SIGKILL to every process of the worker",
     [](dir& d, const caller&, std::span<const std::string_view>) { return as_worker(d).signal(SIGKILL); }},
    {"stop", 0, "stop", "SIGTERM now, SIGKILL after the grace period",
     [](dir& d, const caller&, std::span<const std::string_view>) { return as_worker(d).stop(); }},
    {"grace", 1, "grace SECONDS", "the grace period of stop (default: circuitd's, 5)",
     [](dir& d, const caller&, std::span<const std::string_view> a) -> result<void> {
       auto n = parse_count("grace", a[0], 3600);
       if (!n) return n.err();
       as_worker(d).grace() = static_cast<double>(*n);
       return {};
     }},
    {"eof", 0, "eof", "close the worker's stdin",
     [](dir& d, const caller&, std::span<const std::string_view>) { return as_worker(d).close_stdin(); }},
    {"serve", 1, "serve SOCKET",
     "show the goroutines/ and files/ of the 9P server at SOCKET (the worker's program; libcircuit does it)",
     [](dir& d, const caller&, std::span<const std::string_view> a) {
       return as_worker(d).serve(std::string(a[0]));
     }},
};

handle_ptr opened(handle* h) { return handle_ptr(h); }

const file_entry worker_files[] = {
    {.name = "spec",
     .help = "write JSON {\"path\":...,\"args\":[...],\"env\":[\"K=V\"],\"dir\":...} to start; read it back",
     .open =
         [](dir& d, const open_args&, op_ptr<handle_ptr> done) {
           done->complete(opened(new spec_handle(shared(d), as_worker(d).spec_text())));
         },
     .readable = true,
     .writable = true,
     .mode = 0600},
    {.name = "stdin",
     .help = "writes go to the process's stdin; it stays open until `echo eof > ctl`",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { done->complete(opened(new stdin_handle(shared(d)))); },
     .writable = true,
     .mode = 0200},
    {.name = "stdout",
     .help = "the process's output, then end of file; each byte goes to one reader",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { done->complete(opened(new output_handle(shared(d), true))); },
     .readable = true,
     .mode = 0400},
    {.name = "stderr",
     .help = "the process's error output, like stdout",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { done->complete(opened(new output_handle(shared(d), false))); },
     .readable = true,
     .mode = 0400},
    {.name = "wait",
     .help = "open waits until the process ends; read {\"exit\":N} or {\"signal\":\"NAME\"}",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { as_worker(d).open_wait(!(a.flags & O_NONBLOCK), done); },
     .readable = true,
     .mode = 0440},
    {.name = "trywait",
     .help = "like wait, but the open fails with EAGAIN while the process runs",
     .open = [](dir& d, const open_args&,
                op_ptr<handle_ptr> done) { as_worker(d).open_wait(false, done); },
     .readable = true,
     .mode = 0440},
    {.name = "result",
     .help = "the worker's result (libcircuit writes its function's JSON here); a write replaces it at close",
     .open = [](dir& d, const open_args& a,
                op_ptr<handle_ptr> done) { done->complete(opened(new result_handle(shared(d), a.wants_write()))); },
     .readable = true,
     .writable = true,
     .mode = 0640},
    lease_entry,
    {.name = "signal",
     .help = "write a signal name or number (TERM, KILL, 9): sent to every process of the worker",
     .write = [](dir& d, const caller&, std::string_view t) -> result<void> {
       auto sig = parse_signal(t);
       if (!sig) return sig.err();
       return as_worker(d).signal(*sig);
     },
     .mode = 0200},
    {.name = "ctl",
     .help = "commands, one per line (write); see below",
     .write = [](dir& d, const caller& who, std::string_view t) {
       return run_ctl(worker_verbs, d, who, t);
     },
     .mode = 0200},
    {.name = "stat",
     .help = "one JSON line: the stat fields below (read)",
     .read = [](dir& d, const caller&) { return as_worker(d).stat(); },
     .mode = 0440},
};


using json = boost::json::value;

// What one read of stat sees: the worker, and /proc read once for it.
struct worker_view {
  const worker& w;
  proc_stat p;
};

const stat_field<worker_view> worker_stat[] = {
    {"state", "new, running, exited or signaled",
     [](const worker_view& v) { return json(state_name(v.w.current())); }},
    {"pid", "the id of the process the spec started (the leader); 0 while new",
     [](const worker_view& v) { return json(v.w.pid()); }},
    {"path", "the spec's path; null while new",
     [](const worker_view& v) {
       auto& s = v.w.started_spec();
       return s ? json(s->path) : json(nullptr);
     }},
    {"started", "start time, seconds since the epoch; 0 while new",
     [](const worker_view& v) {
       using namespace std::chrono;
       return json(duration_cast<seconds>(v.w.started().time_since_epoch()).count());
     }},
    {"exit", "the exit status once exited, else null",
     [](const worker_view& v) {
       return v.w.current() == worker::state::exited ? json(v.w.exit_status()) : json(nullptr);
     }},
    {"signal", "the name of the signal that ended it once signaled, else null",
     [](const worker_view& v) {
       return v.w.current() == worker::state::signaled ? json(signal_name(v.w.term_signal()))
                                                       : json(nullptr);
     }},
    {"rss", "resident memory of the process, bytes (0 unless running)",
     [](const worker_view& v) { return json(v.p.rss); }},
    {"cpu", "user and system CPU time of the process, seconds",
     [](const worker_view& v) { return json(v.p.cpu); }, 2},
    {"threads", "threads of the process", [](const worker_view& v) { return json(v.p.threads); }},
    {"fds", "open file descriptors of the process", [](const worker_view& v) { return json(v.p.fds); }},
    {"procs", "live processes of the worker: the leader and all it started, also after its end",
     [](const worker_view& v) { return json(v.w.procs()); }},
    {"stdin_buffered", "bytes written to stdin that wait for room in the pipe",
     [](const worker_view& v) { return json(v.w.stdin_buffered()); }},
    {"stdout_buffered", "bytes of stdout kept and not yet read",
     [](const worker_view& v) { return json(v.w.out().size()); }},
    {"stderr_buffered", "bytes of stderr kept and not yet read",
     [](const worker_view& v) { return json(v.w.err().size()); }},
    {"uid", "the user id of its maker, who owns its files (and, when circuitd is root, runs it)",
     [](const worker_view& v) { return json(v.w.maker().uid); }},
    {"gid", "the group id of its maker", [](const worker_view& v) { return json(v.w.maker().gid); }},
};

}  // namespace

std::span<const file_entry> worker::files() const { return worker_files; }

std::span<const verb> worker::verbs() const { return worker_verbs; }

std::string worker::stat() const {
  worker_view v{*this, running() ? read_proc_stat(pid_) : proc_stat{}};
  return stat_json<worker_view>(worker_stat, v);
}

std::vector<stat_doc> worker::stat_fields() const { return stat_docs<worker_view>(worker_stat); }

}  // namespace circuit
