// mount_impl.hpp — what the parts of wire::mount share (mount.cpp: the
// requests on fids; mount_walk.cpp: walks and each caller's attach).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "circuit/wire/mount.hpp"

namespace circuit::wire {

// A uid's attach for one caller session: requests of that caller walk
// from its fid (sent behind the attach, mount::attach).
struct mount::user {
  std::uint32_t fid = 0;
  uid_t uid = 0;
  std::size_t fids = 0;  // walked_ entries walked from it
  std::optional<error> failed;  // the attach's answer, when it refused
};

template <class T>
void mount::forward(const op_ptr<T>& o, bool deadline, const std::function<void()>& issue,
                    std::shared_ptr<bool> cancelled) {
  cl_->set_deadline(deadline ? std::chrono::duration_cast<client::duration>(deadline_) : client::duration::zero());
  issue();
  std::uint16_t tag = cl_->tag_of_last();
  cl_->set_deadline(client::duration::zero());
  std::weak_ptr<client> w = cl_;
  if (!cancelled) {
    return o->on_cancel([w, tag] {
      if (auto cl = w.lock()) cl->flush(tag, [](result<void>) {});
    });
  }
  // Its answer says what came of it: the reply, if it won, or EINTR. An
  // owner that does not answer within the deadline (a link gone silent)
  // does not hold the caller longer: the op ends, and a late reply is
  // dropped.
  std::weak_ptr<op<T>> wo = o;
  auto wait = deadline_;
  o->on_cancel_answered([w, tag, cancelled, wo, wait] {
    *cancelled = true;
    auto cl = w.lock();
    if (!cl) return;
    cl->flush(tag, [](result<void>) {});
    auto t = std::make_shared<boost::asio::steady_timer>(cl->executor(), wait);
    t->async_wait([t, wo](boost::system::error_code) {
      auto o = wo.lock();
      if (o && !o->done() && !o->settling())
        o->complete(make_error(errc::interrupted,
                               "interrupted: the owner did not answer the cancel in time"));
    });
  });
}

// A handler that completes `o` unless a cancel did already.
template <class T, class R, class F>
handler<R> settle(op_ptr<T> o, F take) {
  return [o, take](result<R> r) mutable {
    if (o->done()) return;
    if (!r) return o->complete(r.err());
    o->complete(take(*r));
  };
}

inline std::string join_path(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names) out += "/" + n;
  return out;
}

}  // namespace circuit::wire
