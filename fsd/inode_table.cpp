#include "inode_table.hpp"

namespace circuit::fsd {

fid_t inode_table::make_fid() {
  if (!free_.empty()) {
    fid_t f = free_.back();
    free_.pop_back();
    return f;
  }
  return next_++;
}

std::optional<fid_t> inode_table::fid_of(std::uint64_t ino) const {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.fid;
}

std::optional<fid_t> inode_table::looked_up(std::uint64_t ino, fid_t walked, std::uint64_t parent, std::string name) {
  auto [it, fresh] = nodes_.try_emplace(ino, node{walked, 0, parent, std::move(name)});
  ++it->second.lookups;
  if (fresh) return std::nullopt;
  return walked;
}

std::vector<std::string> inode_table::names_in(std::uint64_t parent) const {
  std::vector<std::string> out;
  for (auto& [ino, n] : nodes_)
    if (n.parent == parent) out.push_back(n.name);
  return out;
}

std::optional<fid_t> inode_table::forget(std::uint64_t ino, std::uint64_t n) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  if (it->second.lookups > n) {
    it->second.lookups -= n;
    return std::nullopt;
  }
  fid_t f = it->second.fid;
  nodes_.erase(it);
  return f;
}

std::optional<inode_table::stale> inode_table::went_stale(std::uint64_t ino, bool may_tell, pid_t pid) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  node& n = it->second;
  auto now = std::chrono::steady_clock::now();
  bool tell = may_tell && (n.told_pid != pid || now - n.told_stale >= std::chrono::seconds(1));
  if (tell) {
    // The kernel's retry starts from the working directory or walks the
    // path again: the file's directory is the next it may ask about.
    for (node* m : {&n, nodes_.count(n.parent) ? &nodes_.at(n.parent) : nullptr})
      if (m) {
        m->told_stale = now;
        m->told_pid = pid;
      }
  }
  return stale{n.parent, n.name, tell};
}

}  // namespace circuit::fsd
