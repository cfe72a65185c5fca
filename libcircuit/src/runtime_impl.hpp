// runtime_impl.hpp — what a runtime holds (runtime.cpp, leases.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "circuit/runtime.hpp"
#include "session.hpp"

namespace circuit {

struct runtime::impl {
  explicit impl(std::uint64_t n) : id(n) {}
  std::uint64_t id;
  std::string socket, host;
  // The leases of what this runtime made (circuit(4), Leases): open fids of
  // each element's `lease` file, on a connection of their own that lives
  // as long as the runtime, so no thread's end ends them, and the
  // program's end or death does.
  std::mutex lease_mu;  // guards the two below
  std::unique_ptr<detail::session> leases;
  std::map<std::string, std::uint32_t> held;  // element path -> lease fid
  // The hosts whose store holds this program's binary, as far as it knows.
  std::mutex ship_mu;
  std::set<std::string> shipped;
};

}  // namespace circuit
