// The `lease` file (lease.hpp).
#include "lease.hpp"

#include "circuit/core/folder.hpp"
#include "circuit/core/namespace.hpp"

namespace circuit {

namespace {

class lease_handle final : public handle {
 public:
  explicit lease_handle(std::weak_ptr<dir> d) : d_(std::move(d)) {}

  void read(std::uint64_t, std::size_t, op_ptr<std::string> done) override {
    done->complete(make_error(errc::access, "lease: write-only file"));
  }

  result<std::size_t> write(const caller&, std::uint64_t, std::string_view data) override {
    auto word = data.substr(0, data.find_last_not_of(" \t\r\n") + 1);
    if (word != "keep")
      return make_error(errc::invalid, "lease: write keep to let go of the element; close to remove it");
    kept_ = true;
    return data.size();
  }

  // The holder's end, by close or by death: the element goes, unless kept
  // or gone already (removed, or a new one of the same name made since).
  void release() override {
    if (kept_) return;
    auto d = d_.lock();
    if (!d) return;
    if (auto* f = dynamic_cast<folder*>(d->parent())) {
      std::string path = d->path();
      if (f->discard(*d)) d->space().log("lease: " + path + " removed: the open that held it closed");
    }
  }

 private:
  std::weak_ptr<dir> d_;
  bool kept_ = false;
};

}  // namespace

void open_lease(dir& d, const open_args&, op_ptr<handle_ptr> done) {
  done->complete(handle_ptr(new lease_handle(d.weak_from_this())));
}

}  // namespace circuit
