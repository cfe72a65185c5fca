// program_tree.cpp — goroutines/ and files/ of a libcircuit program
// (program_tree.hpp), as directories of the core.
#include "program_tree.hpp"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "circuit/core/ctl.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/spawn.hpp"
#include "circuit/wire/turn.hpp"
#include "goroutines.hpp"
#include "program.hpp"
#include "session.hpp"

namespace circuit::detail {

namespace {

// ---- go: a call in, its result out ----

// A goroutine's result, shared by the open of `go` and the thread.
struct go_call {
  std::optional<std::string> result;
  op_ptr<std::string> parked;  // a read waiting for it
  std::uint64_t off = 0;
  std::size_t size = 0;
};

std::string slice(const std::string& s, std::uint64_t off, std::size_t size) {
  return off >= s.size() ? std::string() : s.substr(off, size);
}

// Runs `fn` (registered) with `args` as a goroutine (loop.hpp); its
// result goes to `call` on the loop. Why it cannot, when
// no thread can be made.
std::optional<std::string> start_goroutine(loop& lp, std::shared_ptr<go_call> call, std::string fn,
                                           invoker run, std::string args) {
  return lp.start([&io = lp.io(), call, fn = std::move(fn), run, args = std::move(args)] {
    auto g = goroutines::all().enter(fn);
    boost::json::object out;
    try {
      decoding with(program::get().runtime_of());
      out["value"] = boost::json::parse(run(args));
    } catch (...) {
      out["error"] = fn + " on " + program::get().host() + ": " + thrown_words();
    }
    goroutines::all().leave(g);
    boost::asio::post(io, [call, text = boost::json::serialize(out)] {
      wire::turn t;  // the read's answer is written at its end, not posted (turn.hpp)
      call->result = text;
      if (auto p = std::exchange(call->parked, nullptr)) p->complete(slice(text, call->off, call->size));
    });
  });
}

class go_handle final : public handle {
 public:
  explicit go_handle(loop& lp) : lp_(lp) {}

  // The call, as JSON {"fn":NAME,"args":[...]}; it may come in several writes.
  result<std::size_t> write(const caller&, std::uint64_t, std::string_view data) override {
    if (call_) return make_error(errc::busy, "go: this open runs a goroutine already; open go again for another");
    if (refused_) return *refused_;
    if (pending_.size() + data.size() > max_go_call) {
      std::size_t had = std::exchange(pending_, std::string()).size();
      refused_ = make_error(errc::too_big, "go: a call is at most " + std::to_string(max_go_call) +
                                               " bytes of JSON; this one reached " +
                                               std::to_string(had + data.size()) +
                                               " unfinished (send more on a channel); nothing of it is kept, "
                                               "and this open takes no more: open go again");
      return *refused_;
    }
    pending_.append(data);
    written_ += data.size();
    boost::system::error_code ec;
    auto v = boost::json::parse(pending_, ec);
    if (ec == boost::json::error::incomplete) return data.size();
    std::string text = std::exchange(pending_, std::string());
    const boost::json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    const boost::json::value* fn = o ? o->if_contains("fn") : nullptr;
    const boost::json::value* args = o ? o->if_contains("args") : nullptr;
    if (!fn || !fn->is_string() || (args && !args->is_array()))
      return make_error(errc::invalid, "go: write {\"fn\":NAME,\"args\":[...]}, not " + quote(text));
    std::string name(fn->get_string());
    invoker run = invoker_of(name);
    if (!run) return make_error(errc::not_found, "go: no function " + quote(name) + " is registered in this program");
    std::string arguments = args ? boost::json::serialize(*args) : "[]";
    // A number past a double's range parses as infinity, which goes out as
    // "Infinity": not JSON for the function's side.
    if (boost::json::parse(arguments, ec); ec)
      return make_error(errc::invalid,
                        "go: the arguments hold a number past the range of a double, not " +
                            quote(text.size() > 64 ? text.substr(0, 64) + "..." : text));
    call_ = std::make_shared<go_call>();
    if (auto why = start_goroutine(lp_, call_, name, run, std::move(arguments))) {
      call_.reset();  // nothing runs: the open may take a call again
      return make_error(errc::would_block, "go: no thread for " + name +
                                               " (the program is at its limit of "
                                               "threads or memory: " +
                                               *why + "); nothing ran, try again later");
    }
    return data.size();
  }

  // The result, once the function returned: {"value":...} or {"error":"..."}.
  // It starts where the call ended (a shell's `cat <&3` after its write
  // reads from there); a read below that reads from its beginning.
  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    if (!call_) return done->complete(make_error(errc::invalid, "go: write a call first"));
    if (off >= written_) off -= written_;
    if (call_->result) return done->complete(slice(*call_->result, off, size));
    if (call_->parked) return done->complete(make_error(errc::busy, "go: a read of this open waits already"));
    call_->off = off;
    call_->size = size;
    call_->parked = done;
    done->on_cancel([call = call_] { call->parked.reset(); });
  }
  bool readable_now() const override { return !call_ || call_->result; }
  // The end of an open with a call begun but not whole: nothing runs, and
  // error says why (the clunk fails; a close(2) through a daemon's mount
  // does not wait for it).
  result<void> flush(const caller&) override {
    if (call_ || pending_.empty()) return {};
    return make_error(errc::invalid, "go: the call " + quote(pending_.size() > 64 ? pending_.substr(0, 64) + "..." : pending_) +
                                         " is not whole JSON at the close; nothing ran");
  }

 private:
  loop& lp_;
  std::string pending_;
  std::uint64_t written_ = 0;  // bytes of the call
  std::shared_ptr<go_call> call_;
  std::optional<error> refused_;  // a call over max_go_call: the open is spent
};

// ---- goroutines/ID ----

class goroutine_dir final : public dir {
 public:
  goroutine_dir(ns& space, dir* parent, std::shared_ptr<goroutine> g)
      : dir(space, parent, std::to_string(g->id)), g_(std::move(g)) {
    set_maker(space.cfg().daemon);
  }
  std::span<const file_entry> files() const override;
  std::string_view about() const override {
    return "A goroutine of this program: a thread running a circuit function.\n"
           "stat says what it runs and what it waits for; stack is its stack\n"
           "now; \"cancel\" to ctl makes its blocking circuit call (or its next)\n"
           "throw circuit::cancelled.";
  }
  std::string_view example() const override { return "  cat stat stack; echo cancel > ctl"; }
  goroutine& g() { return *g_; }

 private:
  std::shared_ptr<goroutine> g_;
};

goroutine_dir& as_goroutine(dir& d) { return static_cast<goroutine_dir&>(d); }

const file_entry goroutine_files[] = {
    {.name = "stat",
     .help = "one JSON line: id, fn, state (running or waiting), waiting (what for), since, started, cancel",
     .read = [](dir& d, const caller&) { return goroutines::all().stat(as_goroutine(d).g()); },
     .mode = 0440},
    {.name = "stack",
     .help = "its stack now, one frame a line, innermost first (names need the program linked -rdynamic)",
     .read = [](dir& d, const caller&) { return goroutines::all().stack(as_goroutine(d).g()); },
     .mode = 0440},
    {.name = "ctl",
     .help = "write cancel: its blocking circuit call now, or its next, throws circuit::cancelled",
     .write = [](dir& d, const caller&, std::string_view t) -> result<void> {
       auto word = t.substr(0, t.find_last_not_of(" \t\r\n") + 1);
       if (word != "cancel") return make_error(errc::invalid, "ctl: the command is cancel, not " + quote(word));
       goroutines::all().cancel(as_goroutine(d).g());
       return {};
     },
     .mode = 0200},
};

std::span<const file_entry> goroutine_dir::files() const { return goroutine_files; }

// ---- goroutines/ ----

class goroutines_dir final : public dir {
 public:
  goroutines_dir(ns& space, dir* parent, loop& lp) : dir(space, parent, "goroutines"), lp_(lp) {
    set_maker(space.cfg().daemon);
  }
  std::span<const file_entry> files() const override;
  std::string_view about() const override {
    return "The live goroutines of this program, one directory each, by id.\n"
           "go starts one: open it read-write, write {\"fn\":NAME,\"args\":[...]}\n"
           "(a function registered with CIRCUIT_REGISTER), and read its result.";
  }
  std::string_view example() const override {
    return "  ls; cat 1/stat\n  exec 3<>go; echo '{\"fn\":\"square\",\"args\":[7]}' >&3; cat <&3";
  }
  dir* child(std::string_view name) override {
    std::uint64_t id = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec != std::errc() || p != name.data() + name.size()) return nullptr;
    auto it = items_.find(id);
    return it == items_.end() ? nullptr : it->second.get();
  }
  std::vector<dir*> children() override {
    std::vector<dir*> out;
    for (auto& [id, d] : items_) out.push_back(d.get());
    return out;
  }
  loop& lp() { return lp_; }

  // The registry changed: show what lives, retire what left.
  void refresh() {
    auto live = goroutines::all().list();
    std::map<std::uint64_t, std::shared_ptr<goroutine_dir>> next;
    for (auto& g : live) {
      auto it = items_.find(g->id);
      if (it != items_.end()) {
        next.emplace(g->id, std::move(it->second));
        items_.erase(it);
      } else {
        next.emplace(g->id, std::make_shared<goroutine_dir>(space(), this, g));
        space().entry_changed(*this, std::to_string(g->id));
      }
    }
    for (auto& [id, d] : items_) {
      d->retire();
      space().entry_changed(*this, d->name());
    }
    items_ = std::move(next);
  }

 private:
  loop& lp_;
  std::map<std::uint64_t, std::shared_ptr<goroutine_dir>> items_;
};

const file_entry goroutines_files[] = {
    {.name = "go",
     .help = "open read-write, write {\"fn\":NAME,\"args\":[...]}, read {\"value\":...} or {\"error\":...}",
     .open =
         [](dir& d, const open_args&, op_ptr<handle_ptr> done) {
           done->complete(handle_ptr(new go_handle(static_cast<goroutines_dir&>(d).lp())));
         },
     .readable = true,
     .writable = true,
     .mode = 0600},
};

std::span<const file_entry> goroutines_dir::files() const { return goroutines_files; }

// ---- files/ ----

class files_dir;
template <std::size_t I>
void open_slot(dir& d, const open_args& a, op_ptr<handle_ptr> done);

// The core's file tables hold plain functions: each served file gets the
// function of its slot, which knows its index.
constexpr std::size_t max_served = 32;
constexpr auto slots = []<std::size_t... I>(std::index_sequence<I...>) {
  return std::array<void (*)(dir&, const open_args&, op_ptr<handle_ptr>), sizeof...(I)>{&open_slot<I>...};
}(std::make_index_sequence<max_served>{});

class served_handle final : public handle {
 public:
  served_handle(const served_file& f, std::string text) : f_(f), text_(std::move(text)) {}
  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    done->complete(slice(text_, off, size));
  }
  result<std::size_t> write(const caller&, std::uint64_t, std::string_view data) override {
    try {
      f_.write(data);
    } catch (...) {
      return make_error(errc::invalid, f_.name + ": " + thrown_words());
    }
    return data.size();
  }

 private:
  const served_file& f_;
  std::string text_;
};

class files_dir final : public dir {
 public:
  files_dir(ns& space, dir* parent) : dir(space, parent, "files") { set_maker(space.cfg().daemon); }
  std::span<const file_entry> files() const override { return table_; }
  std::string_view about() const override {
    return "The program's own files (rt.serve): what reading one gives and what\n"
           "writing one does is the program's.";
  }
  std::string_view example() const override { return "  ls; cat NAME"; }

  result<void> add(served_file f) {
    if (auto ok = check_name("serve", f.name); !ok) return ok;
    for (auto& s : served_)
      if (s.name == f.name) return make_error(errc::exists, "serve: files/" + f.name + " is served already");
    if (served_.size() == max_served)
      return make_error(errc::too_big, "serve: at most " + std::to_string(max_served) + " files");
    served_.push_back(std::move(f));
    auto& s = served_.back();
    table_.push_back({.name = s.name,
                      .help = "a file of the program (rt.serve)",
                      .open = slots[served_.size() - 1],
                      .readable = bool(s.read),
                      .writable = bool(s.write),
                      .mode = static_cast<mode_t>((s.read ? 0400 : 0) | (s.write ? 0200 : 0))});
    space().entry_changed(*this, s.name);
    return {};
  }

  void open(std::size_t i, const open_args&, op_ptr<handle_ptr> done) {
    const served_file& f = served_[i];
    std::string text;
    if (f.read) {
      try {
        text = f.read();
      } catch (...) {
        return done->complete(make_error(errc::io, f.name + ": " + thrown_words()));
      }
    }
    done->complete(handle_ptr(new served_handle(f, std::move(text))));
  }

 private:
  std::deque<served_file> served_;  // stable: the table's names point into it
  std::vector<file_entry> table_;
};

template <std::size_t I>
void open_slot(dir& d, const open_args& a, op_ptr<handle_ptr> done) {
  static_cast<files_dir&>(d).open(I, a, std::move(done));
}

// ---- the root ----

class program_root final : public dir {
 public:
  program_root(ns& space, loop& lp) : dir(space, nullptr, "") {
    set_maker(space.cfg().daemon);
    goroutines_ = std::make_shared<goroutines_dir>(space, this, lp);
    files_ = std::make_shared<files_dir>(space, this);
  }
  std::span<const file_entry> files() const override { return {}; }
  std::string_view about() const override { return "A libcircuit program's files: goroutines/ and files/."; }
  std::string_view example() const override { return "  ls goroutines files"; }
  dir* child(std::string_view name) override {
    if (name == "goroutines") return goroutines_.get();
    if (name == "files") return files_.get();
    return nullptr;
  }
  std::vector<dir*> children() override { return {goroutines_.get(), files_.get()}; }
  goroutines_dir& gor() { return *goroutines_; }
  files_dir& served() { return *files_; }

 private:
  std::shared_ptr<goroutines_dir> goroutines_;
  std::shared_ptr<files_dir> files_;
};

}  // namespace

std::shared_ptr<dir> make_program_tree(ns& space, loop& lp) {
  return std::make_shared<program_root>(space, lp);
}

void refresh_goroutines(ns& space) { static_cast<program_root&>(space.top()).gor().refresh(); }

result<void> add_served_file(ns& space, served_file f) {
  return static_cast<program_root&>(space.top()).served().add(std::move(f));
}

}  // namespace circuit::detail
