// server_callers.cpp — whom each fid's requests run as, on a connection
// where root speaks for many callers (server.hpp): the attach names the
// caller, a walk's newfid takes its source's, a clunk lets it go.
#include "circuit/wire/server.hpp"

namespace circuit::wire {

const caller& server::who(fid_t fid) const {
  auto it = callers_.find(fid);
  return it == callers_.end() ? peer_ : it->second.who;
}

std::uint64_t server::bind_as(fid_t fid, caller c) {
  callers_[fid] = bound{std::move(c), ++serials_};
  return serials_;
}

std::uint64_t server::bind(fid_t newfid, fid_t from) {
  auto it = callers_.find(from);
  return it == callers_.end() ? 0 : bind_as(newfid, it->second.who);
}

void server::unbind_if(fid_t fid, std::uint64_t serial) {
  if (auto it = callers_.find(fid); it != callers_.end() && it->second.serial == serial) callers_.erase(it);
}

}  // namespace circuit::wire
