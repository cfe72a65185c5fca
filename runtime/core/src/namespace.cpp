#include "circuit/core/namespace.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "circuit/core/access.hpp"


namespace circuit {
namespace {

constexpr std::size_t max_errors_kept = 4096;

// A text file open: a snapshot to read, writes applied at once.
class text_handle final : public handle {
 public:
  text_handle(ns& space, std::uint64_t dir_id, const file_entry* entry, std::string text)
      : space_(space), dir_id_(dir_id), entry_(entry), text_(std::move(text)) {}

  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    if (off >= text_.size()) return done->complete(std::string());
    done->complete(text_.substr(off, size));
  }

  result<std::size_t> write(const caller& who, std::uint64_t, std::string_view data) override {
    if (!entry_ || !entry_->write) return handle::write(who, 0, data);
    dir* d = space_.find(dir_id_);  // there: ns::write checked
    if (!d) return make_error(errc::removed, std::string(entry_->name) + ": directory was removed");
    auto r = entry_->write(*d, who, data);
    if (!r) return r.err();
    return data.size();
  }

 private:
  ns& space_;
  std::uint64_t dir_id_;
  const file_entry* entry_;  // null for help and error
  std::string text_;
};

}  // namespace

ns::ns(config cfg, const std::function<std::shared_ptr<dir>(ns&)>& plant)
    : cfg_(std::move(cfg)), memory_(cfg_.max_memory) {
  root_ = plant(*this);
}

ns::~ns() {
  stop();
  for (open_file* f : open_) delete f;
  open_.clear();
  root_.reset();
}

void ns::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Top-down: a folder acts before its items (workers reap their
  // processes, so a parked wait gets the exit, not "removed").
  std::vector<dir*> todo{root_.get()};
  while (!todo.empty()) {
    dir* d = todo.back();
    todo.pop_back();
    d->retire();
    for (dir* c : d->children()) todo.push_back(c);
  }
  events_.stop();
}

void ns::log(std::string_view line) const {
  if (cfg_.log) cfg_.log(line);
}

void ns::entry_changed(const dir& parent, const std::string& name) const {
  if (cfg_.entry_changed) cfg_.entry_changed(parent.id() << file_bits, name);
}

std::uint64_t ns::enroll(dir* d) {
  std::uint64_t id = next_id_++;
  dirs_.emplace(id, d);
  return id;
}

void ns::forget(std::uint64_t id) { dirs_.erase(id); }

dir* ns::find(std::uint64_t id) const {
  auto it = dirs_.find(id);
  return it == dirs_.end() ? nullptr : it->second;
}

result<ns::where> ns::resolve(std::uint64_t ino) const {
  dir* d = find(ino >> file_bits);
  unsigned index = ino & ((1u << file_bits) - 1);
  if (!d || (index >= table_base && index - table_base >= d->files().size()))
    return make_error(errc::not_found, "no such file (it was removed)");
  return where{d, index};
}

attr ns::attr_of(const dir& d, unsigned index) const {
  attr a;
  a.ino = (d.id() << file_bits) | index;
  a.is_dir = index == 0;
  a.perm = index == 0 ? d.mode()
           : index < table_base ? implicit_file_mode
                                : mode_of(d.files()[index - table_base]);
  if (!cfg_.allow_group) a.perm &= ~mode_t{070};
  a.uid = d.maker().uid;
  a.gid = cfg_.allow_group.value_or(d.maker().gid);
  return a;
}

std::optional<attr> ns::entry(dir& d, std::string_view name) const {
  if (name == "help") return attr_of(d, help_index);
  if (name == "error") return attr_of(d, error_index);
  auto files = d.files();
  for (unsigned i = 0; i < files.size(); ++i)
    if (files[i].name == name) return attr_of(d, table_base + i);
  if (dir* c = d.child(name)) return attr_of(*c, 0);
  return std::nullopt;
}

result<attr> ns::lookup(const caller& who, std::uint64_t parent, std::string_view name) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(parent);
  if (!w) return w.err();
  if (w->index != 0) return make_error(errc::not_dir, "not a directory");
  dir& d = *w->d;
  if (attr self = attr_of(d, 0); !permits(who, self, X_OK)) return denied(self, d.path(), X_OK);
  if (name == ".") return attr_of(d, 0);
  if (name == "..") return attr_of(d.parent() ? *d.parent() : d, 0);
  if (auto a = entry(d, name)) return *a;
  return make_error(errc::not_found, std::string(name) + ": no such file");
}

std::shared_ptr<remote> ns::mount_at(std::uint64_t ino) const {
  auto w = resolve(ino);
  if (!w || w->index != 0) return nullptr;
  return w->d->served_by();
}

result<attr> ns::getattr(const caller& who, std::uint64_t ino) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(ino);
  if (!w) return w.err();
  return attr_of(*w->d, w->index);
}

result<void> ns::access(const caller& who, std::uint64_t ino, int mask) {
  auto a = getattr(who, ino);
  if (!a) return a.err();
  if (permits(who, *a, mask)) return {};
  auto w = resolve(ino);
  return denied(*a, w->d->path(), mask);
}

result<std::vector<dir_entry>> ns::list(const caller& who, std::uint64_t ino) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(ino);
  if (!w) return w.err();
  if (w->index != 0) return make_error(errc::not_dir, "not a directory");
  dir& d = *w->d;
  if (attr self = attr_of(d, 0); !permits(who, self, R_OK)) {
    error e = denied(self, d.path(), R_OK);
    record(d.id(), who, e);
    return e;
  }
  std::vector<dir_entry> out;
  out.push_back({"help", attr_of(d, help_index)});
  out.push_back({"error", attr_of(d, error_index)});
  auto files = d.files();
  for (unsigned i = 0; i < files.size(); ++i)
    out.push_back({std::string(files[i].name), attr_of(d, table_base + i)});
  for (dir* c : d.children()) out.push_back({c->name(), attr_of(*c, 0)});
  return out;
}

result<attr> ns::mkdir(const caller& who, std::uint64_t parent, std::string_view name) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(parent);
  if (!w) return w.err();
  dir& d = *w->d;
  auto fail = [&](error e) -> result<attr> {
    record(d.id(), who, e);
    return e;
  };
  if (w->index != 0) return make_error(errc::not_dir, "mkdir: not a directory");
  if (attr self = attr_of(d, 0); !permits(who, self, W_OK | X_OK))
    return fail(denied(self, "mkdir: " + d.path(), W_OK));
  if (auto ok = check_name("mkdir " + d.path(), name); !ok) return fail(ok.err());
  if (entry(d, name))
    return fail(make_error(errc::exists, "mkdir: " + std::string(name) + " already exists in " +
                                             d.path()));
  auto made = d.make(who, name);
  if (!made) return fail(made.err());
  return attr_of(*made.value(), 0);
}

result<void> ns::rmdir(const caller& who, std::uint64_t parent, std::string_view name) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(parent);
  if (!w) return w.err();
  dir& d = *w->d;
  if (w->index != 0) return make_error(errc::not_dir, "rmdir: not a directory");
  auto r = may_remove(who, d, name);
  if (r) r = d.remove(who, name);
  if (!r) record(d.id(), who, r.err());
  return r;
}

result<void> ns::rmdir(const caller& who, std::uint64_t ino) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(ino);
  if (!w) return w.err();
  if (w->index != 0) {
    std::string what = w->index == help_index ? "help" : w->index == error_index ? "error"
                       : std::string(w->d->files()[w->index - table_base].name);
    return refuse(who, w->d->id() << file_bits, what, "remove");
  }
  dir* parent = w->d->parent();
  if (!parent) return make_error(errc::not_permitted, "remove: the root cannot be removed");
  return rmdir(who, parent->id() << file_bits, w->d->name());
}

// The parent must let `who` write it, and a sticky one (a folder of
// elements) only lets the element's maker, its own owner or root remove.
result<void> ns::may_remove(const caller& who, dir& parent, std::string_view name) const {
  attr self = attr_of(parent, 0);
  if (!permits(who, self, W_OK | X_OK)) return denied(self, "rmdir: " + parent.path(), W_OK);
  dir* c = parent.child(name);
  if (!c || !(self.perm & S_ISVTX) || who.uid == 0 || who.uid == self.uid ||
      who.uid == c->maker().uid)
    return {};
  return make_error(errc::not_permitted, "rmdir: " + c->path() + ": only its maker (uid " +
                                             std::to_string(c->maker().uid) + ") and root may remove it");
}

void ns::open(std::uint64_t ino, const open_args& args, op_ptr<open_file*> done) {
  if (auto ok = admit(cfg_, args.who); !ok) return done->complete(ok.err());
  auto w = resolve(ino);
  if (!w) return done->complete(w.err());
  dir& d = *w->d;
  const std::uint64_t dir_id = d.id();
  if (w->index == 0) return done->complete(make_error(errc::is_dir, "open: is a directory"));

  auto refuse = [&](error e) {
    record(dir_id, args.who, e);
    done->complete(std::move(e));
  };
  std::string_view name = w->index == help_index    ? "help"
                          : w->index == error_index ? "error"
                                                    : d.files()[w->index - table_base].name;
  std::string path = d.path() + (d.parent() ? "/" : "") + std::string(name);
  // The file's own ways first (a read-only file says so, to root too),
  // then its mode.
  auto check_mode = [&]() -> result<void> {
    int mask = (args.wants_read() ? R_OK : 0) | (args.wants_write() ? W_OK : 0);
    attr a = attr_of(d, w->index);
    if (permits(args.who, a, mask)) return {};
    return denied(a, path, mask);
  };
  if (w->index < table_base) {
    if (args.wants_write()) return refuse(make_error(errc::access, std::string(name) + ": read-only file"));
    if (auto ok = check_mode(); !ok) return refuse(ok.err());
    std::string text = w->index == help_index ? help_text(d) : last_error(dir_id, args.who);
    if (w->index == error_index && !text.empty()) text += '\n';
    auto f = new open_file{std::make_unique<text_handle>(*this, dir_id, nullptr, std::move(text)),
                           dir_id, std::move(path), args.flags};
    open_.insert(f);
    return done->complete(f);
  }
  const file_entry& e = d.files()[w->index - table_base];
  bool readable = e.open ? e.readable : e.read != nullptr;
  bool writable = e.open ? e.writable : e.write != nullptr;
  if (args.wants_write() && !writable)
    return refuse(make_error(errc::access, std::string(name) + ": read-only file"));
  if (args.wants_read() && !readable)
    return refuse(make_error(errc::access, std::string(name) + ": write-only file; open it for writing"));
  if (auto ok = check_mode(); !ok) return refuse(ok.err());
  if (!e.open) {
    std::string text = args.wants_read() ? e.read(d, args.who) : std::string();
    auto f = new open_file{std::make_unique<text_handle>(*this, dir_id, &e, std::move(text)),
                           dir_id, std::move(path), args.flags};
    open_.insert(f);
    return done->complete(f);
  }
  // A cancel of `done` reaches the element's op; the element's op holds
  // `done`, never the reverse.
  auto inner = make_inner_op<handle_ptr>(
      done, [this, dir_id, who = args.who, flags = args.flags, path = std::move(path)](
                const op_ptr<open_file*>& done, result<handle_ptr> r) mutable {
        if (!r) {
          if (r.err().code != errc::interrupted) record(dir_id, who, r.err());
          return done->complete(r.err());
        }
        auto f = new open_file{std::move(r.value()), dir_id, std::move(path), flags};
        open_.insert(f);
        done->complete(f);
      });
  e.open(d, args, inner);
}

namespace {
// Hands `done` to an element through an inner op that records a failure
// for the caller's session, and that a cancel of `done` reaches.
template <class T, class Start>
void relay(ns& space, std::uint64_t dir_id, const caller& who, op_ptr<T> done, Start start) {
  start(make_inner_op<T>(done, [&space, dir_id, who](const op_ptr<T>& done, result<T> r) {
    if (!r && r.err().code != errc::interrupted) space.record(dir_id, who, r.err());
    done->complete(std::move(r));
  }));
}
}  // namespace

// The one check that keeps removed elements from acting: an open file
// outlives its element only as a failure, so a spec written through it
// starts nothing and a read parks on nothing that will ever come.
std::optional<error> ns::gone(const open_file& f, bool writing) const {
  if (find(f.dir_id) || f.h->outlives_element()) return std::nullopt;
  // The daemon's stop retires every element the same way; a write then
  // fails as one waiting for room in a worker's stdin does at the stop.
  if (stopped_ && writing)
    return make_error(errc::closed, f.path + ": circuitd is stopping; it takes no more writes");
  return make_error(errc::removed, f.path + ": its directory was removed");
}

void ns::read(open_file& f, const caller& who, std::uint64_t off, std::size_t size, bool nonblock,
              op_ptr<std::string> done) {
  if (auto e = gone(f, false)) return done->complete(std::move(*e));
  // Not recorded: an event loop retries it at every wake-up.
  if (nonblock && !f.h->readable_now())
    return done->complete(make_error(errc::would_block, f.path + ": nothing to read yet"));
  relay(*this, f.dir_id, who, std::move(done), [&](auto inner) { f.h->read(off, size, inner); });
}

void ns::write(open_file& f, const caller& who, std::uint64_t off, std::string_view data,
               op_ptr<std::size_t> done) {
  if (auto e = gone(f, true)) return done->complete(std::move(*e));
  relay(*this, f.dir_id, who, std::move(done),
        [&](auto inner) { f.h->write_async(who, off, data, inner); });
}

bool ns::readable(open_file& f, std::function<void()> wake) {
  if (gone(f, false) || f.h->readable_now()) return true;
  if (wake) f.h->wake_when_readable(std::move(wake));
  return false;
}

result<void> ns::flush(open_file& f, const caller& who) {
  auto r = f.h->flush(who);
  if (!r) record(f.dir_id, who, r.err());
  return r;
}

void ns::abort(open_file& f, const caller& who) {
  f.h->abort(who, "a process holding it died of a signal");
}

result<void> ns::fsync(open_file& f, const caller& who) {
  auto r = f.h->sync(who);
  if (!r) record(f.dir_id, who, r.err());
  return r;
}

void ns::release(open_file* f) {
  if (!f) return;
  f->h->release();
  open_.erase(f);
  delete f;
}

result<void> ns::commit(open_file* f, const caller& who) {
  auto r = f->h->flush(who);
  if (r) r = f->h->sync(who);
  if (!r) record(f->dir_id, who, r.err());
  release(f);
  return r;
}

void ns::drop(open_file* f, const caller& who) {
  f->h->abort(who, "its client ended the open without committing it (9P remove, or the end of the session)");
  f->h->release();  // what abort left (a taken message) goes back
  open_.erase(f);
  delete f;
}

error ns::refuse(const caller& who, std::uint64_t parent, std::string_view name,
                 std::string_view what) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(parent);
  if (!w) return w.err();
  error e = make_error(errc::not_permitted,
                       std::string(what) + ": " + std::string(name) + ": " + w->d->path() +
                           " has a fixed set of files; mkdir makes elements (see help)");
  record(w->d->id(), who, e);
  return e;
}

void ns::record(std::uint64_t dir_id, const caller& who, const error& e) {
  // Bounded in bytes too: max_errors_kept messages of at most
  // max_error_text each (make_error cuts; an error built by hand is cut here).
  std::string text = cut_text(e.message);
  if (e.code != errc::would_block || cfg_.log_routine) log("error: " + text);
  auto key = std::make_pair(dir_id, who.key);
  auto [it, fresh] = errors_.insert_or_assign(key, std::move(text));
  if (!fresh) return;
  error_order_.push_back(key);
  if (error_order_.size() > max_errors_kept) {
    errors_.erase(error_order_.front());
    error_order_.pop_front();
  }
}

std::string ns::last_error(std::uint64_t dir_id, const caller& who) const {
  auto it = errors_.find({dir_id, who.key});
  return it == errors_.end() ? std::string() : it->second;
}

}  // namespace circuit
