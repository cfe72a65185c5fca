// root.hpp — the top of the tree: help, members, events, one dir per host.
#pragma once

#include <map>
#include <memory>

#include "circuit/core/dir.hpp"

namespace circuit {

class host;

class root final : public dir {
 public:
  explicit root(ns& space);
  ~root() override;

  host& add_host(const std::string& name);
  result<void> add_mount(const std::string& name, std::shared_ptr<remote> r);
  result<void> remove_mount(const std::string& name);

  std::span<const file_entry> files() const override;
  std::string_view about() const override;
  std::string_view example() const override;
  dir* child(std::string_view name) override;
  std::vector<dir*> children() override;

  std::string members() const;

 private:
  std::map<std::string, std::shared_ptr<host>, std::less<>> hosts_;
  std::map<std::string, std::shared_ptr<dir>, std::less<>> mounts_;
};

}  // namespace circuit
