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

void stop_workers(ns& space, std::function<void()> done) {
  auto* h = static_cast<host*>(space.top().child(space.cfg().host));
  h->procs().stop_all(std::move(done));
}

std::size_t live_workers(ns& space) {
  auto* h = static_cast<host*>(space.top().child(space.cfg().host));
  return h ? h->procs().live() : 0;
}

}  // namespace circuit
