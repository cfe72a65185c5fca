#include "circuit/core/namespace.hpp"

#include "circuit/core/access.hpp"

// The error records: a refused call's message, kept per directory and per
// caller session for the directory's `error` file, and logged.

namespace circuit {
namespace {

constexpr std::size_t max_errors_kept = 4096;

}  // namespace

error ns::refuse(const caller& who, std::uint64_t parent, std::string_view name,
                 std::string_view what) {
  if (auto ok = admit(cfg_, who); !ok) return ok.err();
  auto w = resolve(parent);
  if (!w) return w.err();
  error e = fixed_files(*w->d, what, name);
  record(w->d->id(), who, e);
  return e;
}

void ns::record(std::uint64_t dir_id, const caller& who, const error& e, bool logged) {
  while (!find(dir_id)) {  // removed: its nearest directory still there
    auto up = gone_parent_.find(dir_id);
    if (up == gone_parent_.end()) break;
    dir_id = up->second;
  }
  // Bounded in bytes too: max_errors_kept messages of at most
  // max_error_text each (make_error cuts; an error built by hand is cut here).
  std::string text = cut_text(e.message);
  if (!logged && (e.code != errc::would_block || cfg_.log_routine)) log("error: " + text);
  error_key key{dir_id, who.session_key(), who.uid};
  auto [it, fresh] = errors_.insert_or_assign(key, std::move(text));
  if (!fresh) return;
  error_order_.push_back(key);
  if (error_order_.size() > max_errors_kept) {
    errors_.erase(error_order_.front());
    error_order_.pop_front();
  }
}

void ns::record_in(std::uint64_t ino, const caller& who, const error& e) {
  auto w = resolve(ino);
  if (!w) return;
  // A mount point's own error file is the remote's: the one above it.
  dir* d = w->d->served_by() && w->d->parent() ? w->d->parent() : w->d;
  record(d->id(), who, e);
}

std::string ns::last_error(std::uint64_t dir_id, const caller& who) const {
  auto it = errors_.find(error_key{dir_id, who.session_key(), who.uid});
  return it == errors_.end() ? std::string() : it->second;
}

}  // namespace circuit
