#include "bin.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "circuit/core/namespace.hpp"
#include "incoming.hpp"
#include "sha256.hpp"

// The store's bookkeeping: what is on disk, uploads' ends, users and
// eviction. Its files (the handles, the table, help and stat) are
// bin_files.cpp.

namespace circuit {
namespace {

// Makes `path` and what is missing above it: 0755 on the way, `last` at
// the end (what exists is left as it is).
int make_dirs(const std::string& path, mode_t last) {
  for (std::size_t at = 1; at <= path.size(); ++at) {
    if (at < path.size() && path[at] != '/') continue;
    std::string part = path.substr(0, at);
    if (::mkdir(part.c_str(), at == path.size() ? last : 0755) != 0 && errno != EEXIST) return errno;
  }
  return 0;
}

}  // namespace

bin_use::bin_use(std::weak_ptr<bin> store, std::string name, std::string path)
    : store_(std::move(store)), name_(std::move(name)), path_(std::move(path)) {}

bin_use& bin_use::operator=(bin_use&& o) noexcept {
  if (this == &o) return *this;
  release();
  store_ = std::move(o.store_);
  name_ = std::move(o.name_);
  path_ = std::move(o.path_);
  o.store_.reset();
  return *this;
}

void bin_use::release() {
  if (auto s = store_.lock()) s->let_go(name_);
  store_.reset();
}

// A store on disk already is read at the start; one that is not there yet
// is made when the first binary comes, so a daemon that stores nothing
// leaves nothing on disk.
bin::bin(ns& space, dir* parent) : dir(space, parent, "bin"), where_(space.cfg().store) {
  struct stat st {};
  if (!where_.empty() && ::stat(where_.c_str(), &st) == 0) open_store();
}

bin::~bin() {
  for (auto& [name, e] : entries_) space().forget_file(e.id);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void bin::open_store() {
  if (where_.empty()) {
    broken_ = make_error(errc::not_supported, "bin: this circuitd keeps no binaries (it has no --store)");
    return;
  }
  if (int e = make_dirs(where_, 0711); e != 0)
    broken_ = make_error(errc::io, "bin: cannot make the store " + where_ + ": " + std::strerror(e));
  else if ((dir_fd_ = ::open(where_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    broken_ = make_error(errc::io, "bin: cannot open the store " + where_ + ": " + std::strerror(errno));
  if (broken_) return space().log(broken_->message);
  DIR* d = fdopendir(dup(dir_fd_));
  for (dirent* de; d && (de = readdir(d));) {
    std::string name = de->d_name;
    struct stat st {};
    if (name.rfind(hidden_prefix, 0) == 0) {
      unlinkat(dir_fd_, name.c_str(), 0);  // an upload a crash cut short
      continue;
    }
    if (!check_sha256("bin", name) || fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    entry e;
    e.id = space().enroll_file(*this);
    e.owner = space().cfg().daemon.uid;
    e.stored = true;
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.last_use = st.st_mtime;
    by_id_[e.id] = name;
    bytes_ += e.size;
    entries_.emplace(std::move(name), e);
  }
  if (d) closedir(d);
  space().log("bin: " + std::to_string(entries_.size()) + " binaries, " + std::to_string(bytes_) +
              " bytes, in " + where_);
  evict("");
}

result<void> bin::usable() {
  if (dir_fd_ < 0 && !broken_) open_store();
  if (broken_) return *broken_;
  return {};
}

void bin::used(entry& e) {
  e.last_use = now();
  e.recency = ++uses_;
}

std::int64_t bin::now() const {
  using namespace std::chrono;
  return duration_cast<seconds>(space().clock().wall().time_since_epoch()).count();
}

made_file bin::file_of(const std::string& name, const entry& e) const {
  // The group may read a binary and write it again (an upload of the same
  // bytes, checked like the first).
  return made_file{e.id, name, 0770, e.owner, e.size};
}

std::vector<made_file> bin::made_files() const {
  std::vector<made_file> out;
  for (auto& [name, e] : entries_) out.push_back(file_of(name, e));
  return out;
}

std::optional<made_file> bin::made(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return file_of(it->first, it->second);
}

std::optional<made_file> bin::made(std::uint64_t id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return made(it->second);
}

void bin::forget(std::map<std::string, entry, std::less<>>::iterator it) {
  space().forget_file(it->second.id);
  by_id_.erase(it->second.id);
  entries_.erase(it);
}

result<std::unique_ptr<incoming>> bin::begin(const caller& who, std::string_view name) {
  if (auto ok = usable(); !ok) return ok.err();
  auto [it, fresh] = entries_.try_emplace(std::string(name));
  auto in = incoming::begin(dir_fd_, it->first, space().cfg().store_max_binary);
  if (!in) {
    if (fresh) entries_.erase(it);
    return in.err();
  }
  (*in)->uploader = who.uid;
  if (fresh) {
    it->second.id = space().enroll_file(*this);
    it->second.owner = who.uid;
    by_id_[it->second.id] = it->first;
  }
  ++it->second.writers;
  return in;
}

result<void> bin::room(const incoming& in, std::size_t bytes) const {
  std::uint64_t bound = space().cfg().store_bound;
  if (uploading_ + bytes > bound)
    return make_error(errc::no_space, "bin: the uploads under way hold " + std::to_string(uploading_) + " bytes; " +
                                          std::to_string(bytes) +
                                          " more would pass the store's bound (--store-bound " +
                                          std::to_string(bound) + "): finish or close them, or wait");
  if (in.uploader == 0) return {};
  auto it = uploading_by_.find(in.uploader);
  std::uint64_t mine = it == uploading_by_.end() ? 0 : it->second;
  if (mine + bytes <= bound / 2) return {};
  return make_error(errc::over_quota, "bin: the uploads of uid " + std::to_string(in.uploader) +
                                          " under way hold " + std::to_string(mine) + " bytes; " +
                                          std::to_string(bytes) +
                                          " more would pass a user's share, half the store's bound "
                                          "(--store-bound " +
                                          std::to_string(bound) + "): finish or close them");
}

void bin::wrote(const incoming& in, std::size_t bytes) {
  received_ += bytes;
  uploading_ += bytes;
  uploading_by_[in.uploader] += bytes;
  auto it = entries_.find(in.name());
  if (it != entries_.end() && !it->second.stored)
    it->second.size = std::max(it->second.size, in.size());
}

result<void> bin::end(std::unique_ptr<incoming> in, bool keep, const caller* who) {
  std::string name = in->name();
  auto it = entries_.find(name);
  if (it == entries_.end()) return {};  // cannot happen: an upload keeps its entry
  entry& e = it->second;
  --e.writers;
  result<void> r = keep ? in->commit(dir_fd_) : result<void>(make_error(errc::interrupted, "aborted"));
  std::uint64_t size = in->size();
  uploading_ -= std::min(uploading_, size);
  if (auto by = uploading_by_.find(in->uploader); by != uploading_by_.end()) {
    by->second -= std::min(by->second, size);
    if (by->second == 0) uploading_by_.erase(by);
  }
  in.reset();
  if (r) {
    if (!e.stored) {
      e.stored = true;
      e.size = size;
      bytes_ += size;
      ++stored_count_;
      space().log("bin: stored " + name + " (" + std::to_string(size) + " bytes)");
    }
    used(e);
    utimensat(dir_fd_, name.c_str(), nullptr, 0);
    space().entry_changed(*this, name);  // its size is known now
    evict(name);
    return {};
  }
  if (keep && who) space().record(id(), *who, r.err());
  if (!e.stored && e.writers == 0) {
    forget(it);
    if (who) space().entry_changed(*this, name);
  }
  return keep ? r : result<void>{};
}

result<void> bin::unlink(const caller&, std::string_view name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return make_error(errc::not_found, "unlink: no " + std::string(name) + " in " + path());
  entry& e = it->second;
  if (!e.stored)
    return make_error(errc::busy, "bin: " + it->first + " is being written; it can be removed once stored");
  if (e.users > 0)
    return make_error(errc::busy, "bin: " + it->first + " is in use by " + std::to_string(e.users) +
                                      (e.users == 1 ? " worker" : " workers"));
  if (unlinkat(dir_fd_, it->first.c_str(), 0) != 0 && errno != ENOENT)
    return make_error(errc::io, "bin: unlink " + it->first + ": " + std::strerror(errno));
  std::string n = it->first;
  bytes_ -= e.size;
  e.stored = false;
  space().log("bin: removed " + n);
  if (e.writers == 0) forget(it);
  space().entry_changed(*this, n);
  return {};
}

result<bin_use> bin::use(std::string_view name) {
  if (auto ok = usable(); !ok) return ok.err();
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.stored)
    return make_error(errc::not_found, "bin: no binary " + std::string(name) + " on " + space().cfg().host +
                                           (it == entries_.end() ? "" : " yet: it is being written"));
  ++it->second.users;
  used(it->second);
  utimensat(dir_fd_, it->first.c_str(), nullptr, 0);
  auto self = std::static_pointer_cast<bin>(shared_from_this());
  return bin_use(self, it->first, where_ + "/" + it->first);
}

void bin::let_go(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.users == 0) return;
  --it->second.users;
  used(it->second);
  evict("");
}

// Least recently used first; never a binary in use, being written, or the
// one just stored (what the store was asked for).
void bin::evict(const std::string& keep) {
  std::uint64_t bound = space().cfg().store_bound;
  while (bytes_ > bound) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const entry& e = it->second;
      if (!e.stored || e.users || e.writers || it->first == keep) continue;
      auto age = [](const entry& e) { return std::make_pair(e.last_use, e.recency); };
      if (victim == entries_.end() || age(e) < age(victim->second)) victim = it;
    }
    if (victim == entries_.end()) return;
    std::string n = victim->first;
    unlinkat(dir_fd_, n.c_str(), 0);
    bytes_ -= victim->second.size;
    ++evicted_;
    space().log("bin: evicted " + n + " (" + std::to_string(victim->second.size) + " bytes, last used at " +
                std::to_string(victim->second.last_use) + "): the store is over its bound of " +
                std::to_string(bound) + " bytes");
    forget(victim);
    space().entry_changed(*this, n);
  }
}

}  // namespace circuit
