// workers.hpp — the folder /<host>/workers/: mkdir NAME makes a worker,
// rmdir NAME removes one that has ended (a running one is busy). When the
// daemon stops, retire() stops every running worker: SIGTERM to its group,
// the grace period, then SIGKILL; or leaves them running when configured.
#pragma once

#include "circuit/runtime/folder.hpp"

namespace circuit {

class workers final : public folder {
 public:
  workers(ns& space, dir* parent) : folder(space, parent, "workers") {}

  std::string_view about() const override;
  std::string_view example() const override;
  void retire() override;

 protected:
  std::shared_ptr<dir> make_item(std::string name) override;
  result<void> removable(dir& item) override;
};

}  // namespace circuit
