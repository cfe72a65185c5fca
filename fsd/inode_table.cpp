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

std::optional<fid_t> inode_table::looked_up(std::uint64_t ino, fid_t walked) {
  auto [it, fresh] = nodes_.try_emplace(ino, node{walked, 0});
  ++it->second.lookups;
  if (fresh) return std::nullopt;
  return walked;
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

}  // namespace circuit::fsd
