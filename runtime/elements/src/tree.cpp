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

}  // namespace circuit
