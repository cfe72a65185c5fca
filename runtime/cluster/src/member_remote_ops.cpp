// member_remote_ops.cpp — the requests of the `remote` interface on a
// member_remote: each is passed to the member (member_remote_carry.hpp),
// but a walk to an `error` file while the member is down or cut off,
// which is answered here.
#include "circuit/cluster/member_remote.hpp"
#include "member_remote_carry.hpp"

namespace circuit::cluster {

// While the member is down, its `error` files (any path ending in one)
// are answered here with "host down: NAME"; while it is cut off (no link
// since the link timeout), with "host unreachable: NAME (...)".
bool member_remote::error_walk(std::optional<std::uint32_t> from,
                               const std::vector<std::string>& names, op_ptr<remote_walk>& done) {
  auto it = from ? fids_.find(*from) : fids_.end();
  bool clone_of_error = names.empty() && it != fids_.end() && it->second.error_file;
  bool answered_here = down_ || (cut_ && !link_);
  if (!clone_of_error && (!answered_here || names.empty() || names.back() != "error")) return false;
  remote_walk w;
  for (std::size_t i = 0; i < names.size(); ++i) {
    attr a;
    a.is_dir = i + 1 < names.size();
    a.perm = a.is_dir ? 0555 : 0444;
    a.ino = remote_ino_bit | (std::uint64_t{1} << 57) | i;
    w.walked.push_back(a);
  }
  std::uint32_t f = next_fid_++;
  fids_[f] = fid_ref{gen_, 0, true};
  w.fid = f;
  done->complete(std::move(w));
  return true;
}

void member_remote::walk(const caller& who, std::optional<std::uint32_t> from,
                         std::vector<std::string> names, walk_needs needs,
                         op_ptr<remote_walk> done) {
  promised_.reset();
  if (error_walk(from, names, done)) return;
  auto self = shared_from_this();
  // Where the new fid will be, and whose it is (rewalk).
  std::vector<std::string> path;
  if (auto it = from ? fids_.find(*from) : fids_.end(); it != fids_.end()) path = it->second.path;
  path.insert(path.end(), names.begin(), names.end());
  pass(done, from,
       [self, by = std::make_shared<caller>(who), needs, names = std::move(names),
        path = std::move(path)](remote& link, std::optional<std::uint32_t> lf,
                                op_ptr<remote_walk> o) mutable {
         auto gen = self->gen_;  // the link it goes on
         // Ours for the fid the link promised (pipelining, remote.hpp), made
         // before the answer; let go if the walk does not make it.
         auto early = std::make_shared<std::optional<std::uint32_t>>();
         auto adopt = make_inner_op<remote_walk>(
             o, [self, gen, early, by, path](const op_ptr<remote_walk>& o, result<remote_walk> r) {
               bool made = r && r->fid && self->gen_ == gen;
               // An interrupted walk's early fid stays for its session to end
               // (session.cpp, walk_remote).
               bool interrupted = !r && r.err().code == errc::interrupted;
               if (*early && !made && !interrupted) self->fids_.erase(**early);
               if (r && r->fid) {
                 if (self->gen_ != gen) {  // made on a link that is gone since
                   r->fid.reset();
                   return o->complete(self->unreachable("the link failed during the walk"));
                 }
                 r->fid = *early ? **early : self->adopt(*r->fid, path, by);
               }
               o->complete(std::move(r));
             });
         link.walk(*by, lf, std::move(names), needs, adopt);
         if (auto p = link.promised(); p && !adopt->done()) {
           *early = self->adopt(*p, path, by);
           self->promised_ = **early;
         }
       });
}

namespace {
template <class T>
auto plain(void (remote::*call)(std::uint32_t, op_ptr<T>)) {
  return
      [call](remote& link, std::optional<std::uint32_t> lf, op_ptr<T> o) { (link.*call)(*lf, o); };
}
}  // namespace

void member_remote::getattr(std::uint32_t fid, op_ptr<attr> done) {
  auto it = fids_.find(fid);
  if (it != fids_.end() && it->second.error_file) {
    attr a;
    a.perm = 0444;
    a.ino = remote_ino_bit | (std::uint64_t{1} << 57) | 16;
    return done->complete(a);
  }
  pass(done, fid, plain<attr>(&remote::getattr));
}

void member_remote::lopen(std::uint32_t fid, int flags, op_ptr<attr> done) {
  auto it = fids_.find(fid);
  if (it != fids_.end() && it->second.error_file) return getattr(fid, done);
  pass(done, fid,
       [self = shared_from_this(), fid, flags](remote& link, std::optional<std::uint32_t> lf,
                                               op_ptr<attr> o) {
         self->fids_.at(fid).opened = true;
         link.lopen(*lf, flags, o);
       });
}

void member_remote::readdir(std::uint32_t fid, std::uint64_t index,
                            op_ptr<std::vector<dir_entry>> done) {
  pass(done, fid,
       [index](remote& link, std::optional<std::uint32_t> lf, op_ptr<std::vector<dir_entry>> o) {
         link.readdir(*lf, index, o);
       });
}

void member_remote::read(std::uint32_t fid, std::uint64_t off, std::size_t count,
                         op_ptr<std::string> done) {
  auto it = fids_.find(fid);
  if (it != fids_.end() && it->second.error_file) {
    std::string text = (down_ ? host_down() : unreachable(no_link_words)).message + "\n";
    if (off >= text.size()) return done->complete(std::string());
    return done->complete(text.substr(off, count));
  }
  pass(done, fid,
       [off, count](remote& link, std::optional<std::uint32_t> lf, op_ptr<std::string> o) {
         link.read(*lf, off, count, o);
       });
}

void member_remote::write(std::uint32_t fid, std::uint64_t off, std::string data,
                          op_ptr<std::size_t> done) {
  pass(done, fid,
       [off, data = std::move(data)](remote& link, std::optional<std::uint32_t> lf,
                                     op_ptr<std::size_t> o) mutable {
         link.write(*lf, off, std::move(data), o);
       });
}

void member_remote::fsync(std::uint32_t fid, op_ptr<void> done) {
  pass(done, fid, plain<void>(&remote::fsync));
}

// The ends of a fid: ours goes whatever happens. A fid whose link is gone
// ends with the reason (a send open on it was not delivered), as 9P's
// clunk frees the fid even when it fails.
void member_remote::end_fid(std::uint32_t fid, op_ptr<void> done,
                            void (remote::*call)(std::uint32_t, op_ptr<void>)) {
  auto it = fids_.find(fid);
  if (it == fids_.end())
    return done->complete(make_error(errc::bad_fid, member_ + ": no such fid"));
  fid_ref ref = it->second;
  fids_.erase(it);
  if (ref.error_file) return done->complete(result<void>());
  if (down_) return done->complete(host_down());
  if (ref.gen != gen_ || !link_) {
    // A fid only walked to left nothing on the member with its link.
    if (!ref.opened && call == &remote::clunk) return done->complete(result<void>());
    return done->complete(unreachable("its link failed before it was closed"));
  }
  auto issue = plain<void>(call);
  issue_now(done, ref.link_fid, issue);
}

void member_remote::clunk(std::uint32_t fid, op_ptr<void> done) {
  end_fid(fid, std::move(done), &remote::clunk);
}
void member_remote::remove(std::uint32_t fid, op_ptr<void> done) {
  end_fid(fid, std::move(done), &remote::remove);
}

void member_remote::mkdir(const caller& who, std::uint32_t dfid, std::string name,
                          op_ptr<attr> done) {
  pass(done, dfid,
       [who, name = std::move(name)](remote& link, std::optional<std::uint32_t> lf,
                                     op_ptr<attr> o) mutable {
         link.mkdir(who, *lf, std::move(name), o);
       });
}

void member_remote::unlinkat(const caller& who, std::uint32_t dfid, std::string name, bool dir,
                             op_ptr<void> done) {
  pass(done, dfid,
       [who, name = std::move(name), dir](remote& link, std::optional<std::uint32_t> lf,
                                          op_ptr<void> o) mutable {
         link.unlinkat(who, *lf, std::move(name), dir, o);
       });
}

void member_remote::refuse(const caller& who, std::uint32_t dfid, std::string name,
                           std::string what, op_ptr<void> done) {
  pass(done, dfid,
       [who, name = std::move(name), what = std::move(what)](
           remote& link, std::optional<std::uint32_t> lf, op_ptr<void> o) mutable {
         link.refuse(who, *lf, std::move(name), std::move(what), o);
       });
}

void member_remote::lcreate(const caller& who, std::uint32_t dfid, std::string name, int flags,
                            mode_t mode, op_ptr<attr> done) {
  pass(done, dfid,
       [self = shared_from_this(), dfid, who, name = std::move(name), flags, mode](
           remote& link, std::optional<std::uint32_t> lf, op_ptr<attr> o) mutable {
         auto& ref = self->fids_.at(dfid);  // the new file's now, and open
         ref.opened = true;
         ref.path.push_back(name);
         link.lcreate(who, *lf, std::move(name), flags, mode, o);
       });
}

}  // namespace circuit::cluster
