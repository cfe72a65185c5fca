#include "circuit/core/access.hpp"

#include <unistd.h>

#include "circuit/core/namespace.hpp"

namespace circuit {
namespace {

std::string verb_of(int mask) {
  std::string v;
  auto add = [&v](const char* w) {
    if (!v.empty()) v += " and ";
    v += w;
  };
  if (mask & R_OK) add("read");
  if (mask & W_OK) add("write");
  if (mask & X_OK) add("search");
  return v;
}

}  // namespace

result<void> admit(const config& cfg, const principal& who) {
  if (who.uid == 0 || who.uid == cfg.daemon.uid) return {};
  if (cfg.allow_group && who.in_group(*cfg.allow_group)) return {};
  std::string may = "root and uid " + std::to_string(cfg.daemon.uid);
  if (cfg.allow_group) may += " and members of group " + std::to_string(*cfg.allow_group);
  return make_error(errc::access, "access: uid " + std::to_string(who.uid) +
                                      " may not use this circuit; only " + may + " may");
}

bool permits(const principal& who, const attr& a, int mask) {
  mask &= R_OK | W_OK | X_OK;
  // Root reads and writes anything, and searches what anyone may search.
  if (who.uid == 0) return !(mask & X_OK) || (a.perm & 0111);
  mode_t bits = who.uid == a.uid        ? a.perm >> 6
                : who.in_group(a.gid) ? a.perm >> 3
                                      : a.perm;
  return (bits & mask) == static_cast<mode_t>(mask);
}

error denied(const attr& a, std::string_view path, int mask) {
  mask &= R_OK | W_OK | X_OK;
  auto has = [&](int shift) { return ((a.perm >> shift) & mask) == static_cast<mode_t>(mask); };
  std::string who;
  if (has(6)) who = "its owner (uid " + std::to_string(a.uid) + ")";
  if (has(3)) who += std::string(who.empty() ? "" : ", ") + "members of group " + std::to_string(a.gid);
  who += std::string(who.empty() ? "" : " and ") + "root";
  return make_error(errc::access, std::string(path) + ": permission denied: only " + who +
                                      " may " + verb_of(mask) + " it");
}

mode_t mode_of(const file_entry& f) {
  if (f.mode) return f.mode;
  bool readable = f.open ? f.readable : f.read != nullptr;
  bool writable = f.open ? f.writable : f.write != nullptr;
  return (readable ? 0400 : 0) | (writable ? 0200 : 0);
}

}  // namespace circuit
