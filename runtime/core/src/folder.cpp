#include "circuit/core/folder.hpp"

#include "circuit/core/namespace.hpp"

namespace circuit {

folder::folder(ns& space, dir* parent, std::string name) : dir(space, parent, std::move(name)) {}
folder::~folder() = default;

dir* folder::child(std::string_view name) {
  auto it = items_.find(name);
  return it == items_.end() ? nullptr : it->second.get();
}

std::vector<dir*> folder::children() {
  std::vector<dir*> out;
  out.reserve(items_.size());
  for (auto& [name, d] : items_) out.push_back(d.get());
  return out;
}

result<dir*> folder::make(const caller& who, std::string_view name) {
  auto item = make_item(std::string(name));
  dir* d = item.get();
  d->set_maker(who);  // the principal part: uid, gid, groups
  items_.emplace(std::string(name), std::move(item));
  space().events().append("new " + d->path());
  space().entry_changed(*this, d->name());
  return d;
}

result<void> folder::remove(const caller&, std::string_view name) {
  auto it = items_.find(name);
  if (it == items_.end())
    return make_error(errc::not_found, "rmdir: no " + std::string(name) + " in " + path());
  if (auto ok = removable(*it->second); !ok) return ok;
  erase(it);
  return {};
}

bool folder::discard(dir& item) {
  auto it = items_.find(item.name());
  if (it == items_.end() || it->second.get() != &item) return false;
  erase(it);
  return true;
}

void folder::erase(decltype(items_)::iterator it) {
  auto keep = it->second;  // the item lives until its retire() returns
  std::string p = keep->path();
  std::string n = it->first;
  keep->retire();
  items_.erase(it);
  space().events().append("gone " + p);
  space().entry_changed(*this, n);
}

}  // namespace circuit
