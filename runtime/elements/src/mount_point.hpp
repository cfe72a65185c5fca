// mount_point.hpp — a directory whose contents another 9P server serves
// (remote.hpp): a walk that reaches it goes on there, so its own files are
// never reached. The root's mounts (host ctl `mount`) and a worker's
// program's directories (worker ctl `serve`) are such.
#pragma once

#include <memory>
#include <string>

#include "circuit/core/dir.hpp"
#include "circuit/core/remote.hpp"

namespace circuit {

class mount_point final : public dir {
 public:
  mount_point(ns& space, dir* parent, std::string name, std::shared_ptr<remote> r)
      : dir(space, parent, std::move(name)), remote_(std::move(r)) {}
  std::span<const file_entry> files() const override { return {}; }
  std::string_view about() const override { return "a subtree served by another 9P server (mount)"; }
  std::string_view example() const override { return "  ls"; }
  std::shared_ptr<remote> served_by() const override { return remote_; }

 private:
  std::shared_ptr<remote> remote_;
};

}  // namespace circuit
