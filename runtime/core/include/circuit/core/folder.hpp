// folder.hpp — a directory of elements made by mkdir and removed by rmdir
// (channels/, workers/). A folder owns its elements; removing one retires
// it (its parked requests complete) and emits "gone PATH"; making one emits
// "new PATH". Open handles may keep a removed element's object alive until
// they close, but its path and inodes are gone at once.
//
// Each element records its maker, the caller of the mkdir. A folder is
// sticky (access.hpp): the group may make elements in it, and only an
// element's maker (or root) may remove it.
#pragma once

#include <map>
#include <memory>

#include "circuit/core/dir.hpp"

namespace circuit {

class folder : public dir {
 public:
  folder(ns& space, dir* parent, std::string name);
  ~folder() override;

  std::span<const file_entry> files() const override { return {}; }
  mode_t mode() const override { return 01770; }
  dir* child(std::string_view name) override;
  std::vector<dir*> children() override;
  result<dir*> make(const caller& who, std::string_view name) override;
  result<void> remove(const caller& who, std::string_view name) override;

  // Removes `item` now, whatever removable() says (a running worker's
  // processes are killed by its retire()); false when it is not here.
  bool discard(dir& item);

  std::size_t size() const { return items_.size(); }
  template <class F>
  void each(F f) {
    for (auto& [name, d] : items_) f(*d);
  }

 protected:
  virtual std::shared_ptr<dir> make_item(std::string name) = 0;
  // Whether `item` may be removed now; the error says why not.
  virtual result<void> removable(dir&) { return {}; }

 private:
  std::map<std::string, std::shared_ptr<dir>, std::less<>> items_;
  void erase(decltype(items_)::iterator it);
};

}  // namespace circuit
