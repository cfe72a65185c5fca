#include "circuit/core/namespace.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "circuit/core/access.hpp"

// The tree: directories by id, inode numbers, and the operations on
// directories (lookup, getattr, list, mkdir, rmdir). The open files are in
// namespace_files.cpp, the error records in namespace_errors.cpp.

namespace circuit {

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

void ns::entries_below_changed(const dir& d) const {
  if (cfg_.entries_below_changed) cfg_.entries_below_changed(d.id() << file_bits);
}

std::uint64_t ns::enroll(dir* d) {
  std::uint64_t id = next_id_++;
  dirs_.emplace(id, enrolled{d, d->parent() ? d->parent()->id() : 0});
  return id;
}

void ns::forget(std::uint64_t id) {
  constexpr std::size_t max_gone_kept = 4096;
  auto it = dirs_.find(id);
  if (it == dirs_.end()) return;
  if (it->second.parent) {
    gone_parent_.emplace(id, it->second.parent);
    gone_order_.push_back(id);
    if (gone_order_.size() > max_gone_kept) {
      gone_parent_.erase(gone_order_.front());
      gone_order_.pop_front();
    }
  }
  dirs_.erase(it);
}

std::uint64_t ns::enroll_file(const dir& d) {
  std::uint64_t id = next_id_++;
  made_.emplace(id, d.id());
  return id;
}

void ns::forget_file(std::uint64_t id) { made_.erase(id); }

dir* ns::find(std::uint64_t id) const {
  auto it = dirs_.find(id);
  return it == dirs_.end() ? nullptr : it->second.d;
}

result<ns::where> ns::resolve(std::uint64_t ino) const {
  unsigned index = ino & ((1u << file_bits) - 1);
  auto removed = [] { return make_error(errc::not_found, "no such file (it was removed)"); };
  if (index == made_index) {
    auto it = made_.find(ino >> file_bits);
    dir* d = it == made_.end() ? nullptr : find(it->second);
    auto f = d ? d->made(ino >> file_bits) : std::nullopt;
    if (!f) return removed();
    return where{d, index, std::move(f)};
  }
  dir* d = find(ino >> file_bits);
  if (!d || (index >= table_base && index - table_base >= d->files().size())) return removed();
  return where{d, index};
}

attr ns::attr_of(const dir& d, const made_file& f) const {
  attr a;
  a.ino = (f.id << file_bits) | made_index;
  a.perm = cfg_.allow_group ? f.mode : f.mode & ~mode_t{070};
  a.uid = f.uid;
  a.gid = cfg_.allow_group.value_or(d.maker().gid);
  a.size = f.size;
  return a;
}

attr ns::attr_of(const where& w) const { return w.made ? attr_of(*w.d, *w.made) : attr_of(*w.d, w.index); }

std::string ns::name_of(const where& w) const {
  if (w.made) return w.made->name;
  if (w.index == help_index) return "help";
  if (w.index == error_index) return "error";
  return std::string(w.d->files()[w.index - table_base].name);
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
  if (auto f = d.made(name)) return attr_of(d, *f);
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
  return attr_of(*w);
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
  for (const made_file& f : d.made_files()) out.push_back({f.name, attr_of(d, f)});
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
  if (auto ok = may_make(who, d); !ok) return fail(ok.err());
  auto made = d.make(who, name);
  if (!made) return fail(made.err());
  made.value()->count_for(who.uid);
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
  if (w->made) return unlink(who, w->d->id() << file_bits, w->made->name);
  if (w->index != 0) return refuse(who, w->d->id() << file_bits, name_of(*w), "remove");
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

result<void> ns::may_take_fid(const principal& who) const {
  if (who.uid == 0) return {};
  auto it = fids_of_.find(who.uid);
  if (it == fids_of_.end() || it->second < cfg_.max_fids) return {};
  return make_error(errc::no_memory, "fids: uid " + std::to_string(who.uid) + " holds " + std::to_string(it->second) +
                                         " walked files here, the most one user may (circuitd --max-fids); "
                                         "close files, or end the sessions that hold them");
}

result<void> ns::may_make(const principal& who, const dir& in) const {
  if (who.uid == 0) return {};
  auto it = elements_of_.find(who.uid);
  if (it == elements_of_.end() || it->second < cfg_.max_elements) return {};
  return make_error(errc::over_quota,
                    "mkdir: " + in.path() + ": uid " + std::to_string(who.uid) + " has made " +
                        std::to_string(it->second) +
                        " elements here, the most one user may (circuitd --max-elements); "
                        "remove some");
}

void ns::count_element(uid_t uid, long d) {
  auto& n = elements_of_[uid];
  n += d;
  if (n == 0) elements_of_.erase(uid);
}

void ns::count_fid(uid_t uid, long d) {
  fids_ += d;
  auto& n = fids_of_[uid];
  n += d;
  if (n == 0) fids_of_.erase(uid);
}

}  // namespace circuit
