// channels.hpp — the folder /<host>/channels/: mkdir NAME makes a channel,
// rmdir NAME removes it (parked openers fail with errc::removed).
#pragma once

#include "circuit/core/folder.hpp"

namespace circuit {

class channels final : public folder {
 public:
  channels(ns& space, dir* parent) : folder(space, parent, "channels") {}

  std::string_view about() const override;
  std::string_view example() const override;

 protected:
  std::shared_ptr<dir> make_item(std::string name) override;
};

}  // namespace circuit
