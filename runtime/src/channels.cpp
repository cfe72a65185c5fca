#include "circuit/runtime/channels.hpp"

#include "circuit/runtime/channel.hpp"
#include "circuit/runtime/namespace.hpp"

namespace circuit {

channels::channels(ns& space, dir* parent) : dir(space, parent, "channels") {}
channels::~channels() = default;

std::span<const file_entry> channels::files() const { return {}; }

std::string_view channels::about() const {
  return "The channels of this host: one directory per channel.\n"
         "\n"
         "mkdir NAME makes a channel (names: letters, digits, '.', '_', '-';\n"
         "at most 64); rmdir NAME removes it, failing its waiting senders and\n"
         "receivers. The channel lives in this host's circuitd and is reached\n"
         "from every host by its path. See NAME/help.";
}

std::string_view channels::example() const {
  return "  mkdir jobs && echo 3 > jobs/cap\n"
         "  echo hello > jobs/send\n"
         "  cat jobs/recv\n"
         "  rmdir jobs";
}

dir* channels::child(std::string_view name) {
  auto it = chans_.find(name);
  return it == chans_.end() ? nullptr : it->second.get();
}

std::vector<dir*> channels::children() {
  std::vector<dir*> out;
  out.reserve(chans_.size());
  for (auto& [name, c] : chans_) out.push_back(c.get());
  return out;
}

result<dir*> channels::make(const caller&, std::string_view name) {
  auto c = std::make_shared<channel>(space(), this, std::string(name));
  dir* d = c.get();
  chans_.emplace(std::string(name), std::move(c));
  space().events().append("new " + d->path());
  space().entry_changed(*this, d->name());
  return d;
}

result<void> channels::remove(const caller&, std::string_view name) {
  auto it = chans_.find(name);
  if (it == chans_.end())
    return make_error(errc::not_found, "rmdir: no channel " + std::string(name) + " in " + path());
  std::string p = it->second->path();
  std::string n = it->first;
  it->second->retire();
  chans_.erase(it);  // open handles may keep the object until they close
  space().events().append("gone " + p);
  space().entry_changed(*this, n);
  return {};
}

void channels::retire() {
  for (auto& [name, c] : chans_) c->retire();
}

}  // namespace circuit
