// channels.hpp — the folder /<host>/channels/: mkdir NAME makes a channel,
// rmdir NAME removes it (parked openers fail with errc::removed).
#pragma once

#include <map>
#include <memory>

#include "circuit/runtime/dir.hpp"

namespace circuit {

class channel;

class channels final : public dir {
 public:
  channels(ns& space, dir* parent);
  ~channels() override;

  std::span<const file_entry> files() const override;
  std::string_view about() const override;
  std::string_view example() const override;
  dir* child(std::string_view name) override;
  std::vector<dir*> children() override;
  result<dir*> make(const caller& who, std::string_view name) override;
  result<void> remove(const caller& who, std::string_view name) override;
  void retire() override;

  std::size_t size() const { return chans_.size(); }

 private:
  std::map<std::string, std::shared_ptr<channel>, std::less<>> chans_;
};

}  // namespace circuit
