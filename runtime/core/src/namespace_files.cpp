#include "circuit/core/namespace.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "circuit/core/access.hpp"

// The open files of the namespace: open, read and write, and the ends of
// an open (flush, abort, fsync, commit, drop, release).

namespace circuit {
namespace {

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
  std::string name = name_of(*w);
  std::string path = d.path() + (d.parent() ? "/" : "") + name;
  // The file's own ways first (a read-only file says so, to root too),
  // then its mode.
  auto check_mode = [&]() -> result<void> {
    int mask = (args.wants_read() ? R_OK : 0) | (args.wants_write() ? W_OK : 0);
    attr a = attr_of(*w);
    if (permits(args.who, a, mask)) return {};
    return denied(a, path, mask);
  };
  if (w->made) {
    if (auto ok = check_mode(); !ok) return refuse(ok.err());
    made_file f = std::move(*w->made);
    return open_through(dir_id, args, std::move(path), std::move(done),
                        [&](op_ptr<handle_ptr> inner) { d.open_made(f, args, inner); });
  }
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
  open_through(dir_id, args, std::move(path), std::move(done),
               [&](op_ptr<handle_ptr> inner) { e.open(d, args, inner); });
}

// A cancel of `done` reaches the element's op; the element's op holds
// `done`, never the reverse.
void ns::open_through(std::uint64_t dir_id, const open_args& args, std::string path, op_ptr<open_file*> done,
                      const std::function<void(op_ptr<handle_ptr>)>& start) {
  start(make_inner_op<handle_ptr>(
      done, [this, dir_id, who = args.who, flags = args.flags, path = std::move(path)](
                const op_ptr<open_file*>& done, result<handle_ptr> r) mutable {
        if (!r) {
          if (r.err().code != errc::interrupted) record(dir_id, who, r.err());
          return done->complete(r.err());
        }
        auto f = new open_file{std::move(r.value()), dir_id, std::move(path), flags};
        open_.insert(f);
        done->complete(f);
      }));
}

void ns::create(std::uint64_t parent, std::string_view name, const open_args& args, op_ptr<created> done) {
  if (auto ok = admit(cfg_, args.who); !ok) return done->complete(ok.err());
  auto w = resolve(parent);
  if (!w) return done->complete(w.err());
  if (w->index != 0) return done->complete(make_error(errc::not_dir, "create: not a directory"));
  dir& d = *w->d;
  const std::uint64_t dir_id = d.id();
  auto refuse = [&](error e) {
    record(dir_id, args.who, e);
    done->complete(std::move(e));
  };
  if (attr self = attr_of(d, 0); !permits(args.who, self, W_OK | X_OK))
    return refuse(denied(self, "create: " + d.path(), W_OK));
  std::optional<attr> there = entry(d, name);
  if (there && there->is_dir) return refuse(make_error(errc::is_dir, "create: " + std::string(name) + ": is a directory"));
  if (there && (args.flags & O_EXCL))
    return refuse(make_error(errc::exists, "create: " + std::string(name) + " already exists in " + d.path()));
  // A name that is there already opens as it is (O_CREAT without O_EXCL).
  if (there) {
    auto opened = make_inner_op<open_file*>(done, [this, a = *there](const op_ptr<created>& done, result<open_file*> r) {
      if (!r) return done->complete(r.err());
      done->complete(created{a, *r});
    });
    return open(there->ino, args, opened);
  }
  std::string path = d.path() + (d.parent() ? "/" : "") + std::string(name);
  auto opened = make_inner_op<open_file*>(
      done, [this, dir_id, n = std::string(name)](const op_ptr<created>& done, result<open_file*> r) {
        if (!r) return done->complete(r.err());
        dir* d = find(dir_id);
        auto f = d ? d->made(n) : std::nullopt;
        if (!f) {  // made, and gone already (removed meanwhile)
          drop(*r, caller{});
          return done->complete(make_error(errc::removed, "create: " + n + " was removed as it was made"));
        }
        done->complete(created{attr_of(*d, *f), *r});
      });
  open_through(dir_id, args, std::move(path), opened,
               [&](op_ptr<handle_ptr> inner) { d.create(args, name, inner); });
}

result<void> ns::unlink(const caller& who, std::uint64_t parent, std::string_view name) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(parent);
  if (!w) return w.err();
  if (w->index != 0) return make_error(errc::not_dir, "unlink: not a directory");
  dir& d = *w->d;
  auto fail = [&](error e) -> result<void> {
    record(d.id(), who, e);
    return e;
  };
  if (d.child(name)) return fail(make_error(errc::is_dir, "unlink: " + std::string(name) + ": is a directory"));
  auto f = d.made(name);
  if (!f) {
    if (entry(d, name)) return fail(fixed_files(d, "unlink", name));
    return fail(make_error(errc::not_found, "unlink: " + std::string(name) + ": no such file in " + d.path()));
  }
  // As in a sticky directory: the file's owner, the directory's, or root.
  attr self = attr_of(d, 0);
  if (!permits(who, self, W_OK | X_OK)) return fail(denied(self, "unlink: " + d.path(), W_OK));
  if (who.uid != 0 && who.uid != self.uid && who.uid != f->uid)
    return fail(make_error(errc::not_permitted, "unlink: " + d.path() + "/" + f->name + ": only its owner (uid " +
                                                    std::to_string(f->uid) + ") and root may remove it"));
  auto r = d.unlink(who, name);
  if (!r) return fail(r.err());
  return r;
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
  if (auto e = gone(f, false)) {
    record(f.dir_id, who, *e);
    return done->complete(std::move(*e));
  }
  // Not recorded: an event loop retries it at every wake-up.
  if (nonblock && !f.h->readable_now())
    return done->complete(make_error(errc::would_block, f.path + ": nothing to read yet"));
  relay(*this, f.dir_id, who, std::move(done), [&](auto inner) { f.h->read(off, size, inner); });
}

void ns::write(open_file& f, const caller& who, std::uint64_t off, std::string data,
               op_ptr<std::size_t> done) {
  if (auto e = gone(f, true)) {
    record(f.dir_id, who, *e);
    return done->complete(std::move(*e));
  }
  relay(*this, f.dir_id, who, std::move(done),
        [&](auto inner) { f.h->write_owned(who, off, data, inner); });
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
  // The handle logs the abort itself.
  if (auto e = f.h->abort(who, "a process holding it died of a signal"))
    record(f.dir_id, who, *e, true);
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
  if (auto e = f->h->abort(
          who,
          "its client ended the open without committing it (a 9P remove: through another "
          "member, a process holding it died of a signal or its open was interrupted; or "
          "the end of the client's session)"))
    record(f->dir_id, who, *e, true);  // logged by the handle
  f->h->release();  // what abort left (a taken message) goes back
  open_.erase(f);
  delete f;
}

}  // namespace circuit
