// leases.cpp — what a runtime makes goes with it: each channel and worker
// it makes is held by an open of its `lease` file (circuit(4), Leases) on
// a connection of the runtime's own. The runtime's end clunks them (the
// daemon removes the elements before it answers); a program that dies
// ends the connection, and the daemon removes them just the same, on
// every host.
#include <unistd.h>

#include <cerrno>

#include "circuit/errors.hpp"
#include "runtime_impl.hpp"

namespace circuit {

namespace {

detail::session& lease_session(runtime::impl& im) {
  if (im.leases && !im.leases->conn().connected()) {
    im.leases.reset();  // the daemon went, and what it held with it
    im.held.clear();
  }
  if (!im.leases) im.leases = std::make_unique<detail::session>(im.socket);
  return *im.leases;
}

}  // namespace

// In one round trip: walk to the folder, mkdir, walk to NAME/lease and
// open it for writing.
std::string runtime::make_held(const std::vector<std::string>& folder, const std::string& name, const char* what) {
  std::string path = detail::path_of(folder) + "/" + name;
  std::lock_guard<std::mutex> lock(impl_->lease_mu);
  auto& s = lease_session(*impl_);
  auto& c = s.conn();
  auto& cl = c.raw();
  detail::batch b;
  std::uint32_t dir = cl.new_fid(), lease = cl.new_fid();
  cl.walk(c.root(), dir, folder, b.on_walk(folder.size()));
  cl.mkdir(dir, name, 0755, ::getgid(), b.on<result<wire::qid>>("mkdir"));
  bool lease_walked = false;
  ++b.out;
  cl.walk(dir, lease, {name, "lease"}, [&](result<std::vector<wire::qid>> r) {
    --b.out;
    lease_walked = r && r->size() == 2;
  });
  cl.lopen(lease, wire::o_wronly, b.on<result<wire::rlopen>>("lease"));
  cl.clunk(dir, [](result<void>) {});
  c.run_until([&b] { return b.out == 0; });
  if (b.failed) {
    if (lease_walked) cl.clunk(lease, [](result<void>) {});
    std::string step = b.step;
    if (step == "walk" && b.failed->code == errc::not_found)
      throw_error(ENOENT, std::string(what) + ": no host " + folder[0] + " in the cluster");
    if (step == "mkdir" && b.failed->code == errc::exists)
      throw_error(EEXIST, std::string(what) + ": " + path + ": the name is taken" +
                              (std::string(what) == "make_chan" ? " (open_chan opens it)" : ""));
    s.fail(*b.failed, what, step == "lease" ? path + "/lease" : path, b.walked);
  }
  impl_->held[path] = lease;
  return path;
}

void runtime::keep(const std::string& path) {
  std::lock_guard<std::mutex> lock(impl_->lease_mu);
  auto it = impl_->held.find(path);
  if (it == impl_->held.end()) return;
  auto& s = lease_session(*impl_);
  if (auto it2 = impl_->held.find(path); it2 != impl_->held.end()) {
    auto& c = s.conn();
    auto w = c.write(it2->second, 0, "keep\n");
    (void)c.clunk(it2->second);
    impl_->held.erase(it2);
    if (!w) s.fail(w.err(), "keep", path + "/lease", true);
  }
}

// All the leases' clunks go together; each element is removed before its
// clunk is answered.
void runtime::clean_up() {
  std::lock_guard<std::mutex> lock(impl_->lease_mu);
  if (!impl_->leases || !impl_->leases->conn().connected()) return;  // gone with the daemon
  auto& c = impl_->leases->conn();
  int out = 0;
  for (auto& [path, fid] : impl_->held) {
    ++out;
    c.raw().clunk(fid, [&out](result<void>) { --out; });
  }
  impl_->held.clear();
  c.run_until([&out] { return out == 0; });
}

}  // namespace circuit
