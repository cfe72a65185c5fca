#include "circuit/elements/tree.hpp"

#include "host.hpp"
#include "root.hpp"
#include "workers.hpp"

namespace circuit {

std::shared_ptr<dir> make_tree(ns& space) {
  auto r = std::make_shared<root>(space);
  r->add_host(space.cfg().host);
  return r;
}

result<void> add_mount(ns& space, const std::string& name, std::shared_ptr<remote> r) {
  return static_cast<root&>(space.top()).add_mount(name, std::move(r));
}

result<void> remove_mount(ns& space, const std::string& name) {
  return static_cast<root&>(space.top()).remove_mount(name);
}

result<void> add_member(ns& space, const std::string& name, std::shared_ptr<remote> r) {
  auto ok = add_mount(space, name, std::move(r));
  if (ok) space.events().append("join " + name);
  return ok;
}

result<void> remove_member(ns& space, const std::string& name) {
  auto ok = remove_mount(space, name);
  if (ok) space.events().append("leave " + name);
  return ok;
}

void member_event(ns& space, const std::string& name, const std::string& what) {
  if (!what.empty()) space.events().append(what + " " + name);
  // Faces that cache entries (the kernel's) forget those below the
  // member's directory: they were reached over a link that may be gone.
  // The directory's own entry stays: it is this host's, and a shell whose
  // working directory it is must not lose it (pwd would fail).
  if (dir* d = space.top().child(name)) space.entries_below_changed(*d);
}

void stop_workers(ns& space, std::function<void()> done) {
  auto* h = static_cast<host*>(space.top().child(space.cfg().host));
  h->procs().stop_all(std::move(done));
}

std::size_t live_workers(ns& space) {
  auto* h = static_cast<host*>(space.top().child(space.cfg().host));
  return h ? h->procs().live() : 0;
}

}  // namespace circuit
