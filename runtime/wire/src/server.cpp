#include "circuit/wire/server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>

#include "circuit/core/errno_map.hpp"
#include "circuit/wire/codec.hpp"

namespace circuit::wire {
namespace {

const std::time_t started = std::time(nullptr);

qid qid_of(const attr& a) { return qid{a.is_dir ? qt_dir : qt_file, 0, a.ino}; }

rgetattr getattr_of(const attr& a) {
  rgetattr r;
  r.valid = getattr_basic;
  r.qid = qid_of(a);
  r.mode = (a.is_dir ? S_IFDIR : S_IFREG) | a.perm;
  r.uid = a.uid;
  r.gid = a.gid;
  r.nlink = a.is_dir ? 2 : 1;
  r.size = a.size;  // control files: 0, their size means nothing
  r.blksize = 4096;
  r.atime_sec = r.mtime_sec = r.ctime_sec = static_cast<std::uint64_t>(started);
  return r;
}

// The open(2) flags of a Tlopen that mean something here: the access mode
// and O_NONBLOCK (a try-open). The rest (O_TRUNC, O_LARGEFILE, ...) are
// accepted and ignored, as the mount ignores them.
int open_flags(std::uint32_t wire) {
  int flags = 0;
  switch (wire & o_accmode) {
    case o_wronly: flags = O_WRONLY; break;
    case o_rdwr: flags = O_RDWR; break;
    default: flags = O_RDONLY;
  }
  if (wire & o_nonblock) flags |= O_NONBLOCK;
  return flags;
}

// A Tlcreate's flags: those of an open, and O_EXCL (the name must be new).
int create_flags(std::uint32_t wire) { return open_flags(wire) | O_CREAT | ((wire & o_excl) ? O_EXCL : 0); }

// A principal for a uid that root attaches as: its passwd entry's group
// and its supplementary groups.
result<principal> principal_of(std::uint32_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found)
    return make_error(errc::access, "attach: uid " + std::to_string(uid) + " is not a user of this host");
  principal p{uid, pw.pw_gid, {}};
  int n = 64;
  std::vector<gid_t> g(n);
  if (getgrouplist(pw.pw_name, pw.pw_gid, g.data(), &n) < 0) {
    g.resize(n);
    getgrouplist(pw.pw_name, pw.pw_gid, g.data(), &n);
  }
  g.resize(std::max(n, 0));
  p.groups = std::move(g);
  return p;
}

constexpr std::uint32_t v9fs_magic = 0x01021997;

// The error records of a caller a root client speaks for: its own, so
// another uid or session of the same client (a member forwarding for
// all its callers) never reads this one's words. The client names the
// caller's session in uname (wire::mount: its session key); the key mixes
// the connection's, the uid and that name into bits 0-60, with bit 63 set
// and the face's kind of key (bits 32-33 of the connection's) in 61-62,
// apart from every key a face gives. Two callers share words only if 61
// bits of a hash meet, among at most 4,096 records (namespace_errors.cpp).
std::uint64_t forwarded_key(std::uint64_t conn, std::uint32_t uid, std::string_view session) {
  auto mix = [](std::uint64_t x) {  // splitmix64's finalizer
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  std::uint64_t h = mix(conn) ^ mix(std::uint64_t{uid} + 0x9e3779b97f4a7c15ULL);
  for (unsigned char ch : session) h = mix(h ^ ch);
  return (std::uint64_t{1} << 63) | ((conn >> 32 & 3) << 61) | (h & ((std::uint64_t{1} << 61) - 1));
}

}  // namespace

server::server(ns& space, caller peer, sender send)
    : space_(space), peer_(std::move(peer)), send_(std::move(send)) {}

server::~server() {
  if (complaints_ > 1)
    space_.log(name_ + ": 9p: " + std::to_string(complaints_ - 1) + " more complaints, not logged");
  closing_ = true;  // the session's end completes what is parked; no replies
  ses_.reset();
}

void server::complain(const std::string& what) {
  if (complaints_++ == 0) space_.log(name_ + ": " + what);
}

void server::send(std::uint16_t tag, const rmessage& m) {
  if (closing_) return;
  if (auto it = reserved_.find(tag); it != reserved_.end()) {
    in_flight_ -= it->second;
    reserved_.erase(it);
  }
  send_(tag, m);
}

std::size_t server::reserve_for(const tmessage& m, std::size_t frame, std::uint32_t msize) {
  std::uint32_t count = 0;
  if (auto* r = std::get_if<tread>(&m))
    count = r->count;
  else if (auto* d = std::get_if<treaddir>(&m))
    count = d->count;
  else
    return frame + small_reply;
  return frame + std::min<std::size_t>(count, msize - rread_overhead) + rread_overhead;
}

template <class T>
reply<T> server::answer(std::uint16_t tag, std::function<rmessage(T&)> ok) {
  return [this, tag, gen = generation_, ok = std::move(ok)](result<T> r) {
    if (gen != generation_) return;
    if (!r) return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(r.err().code))});
    send(tag, ok(*r));
  };
}

reply<void> server::answer_void(std::uint16_t tag, rmessage ok) {
  return [this, tag, gen = generation_, ok = std::move(ok)](result<void> r) {
    if (gen != generation_) return;
    if (!r) return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(r.err().code))});
    send(tag, ok);
  };
}

result<void> server::feed(std::string_view bytes) {
  // First what in_ holds: frames held back, or the start of one, which
  // takes from `bytes` only the bytes it lacks (a 64 KiB write split
  // across reads is gathered; the frames read behind it are not).
  std::size_t at = 0;
  while (at < in_.size()) {
    // The face's replies are over its bound (a client that does not read
    // them): the rest waits in in_ until the face feeds again.
    if (hold_ && hold_()) break;
    auto n = next_frame_size(std::string_view(in_).substr(at), msize_);
    if (!n) return n.err();
    std::size_t want = *n == 0 ? 4 : *n;  // its size field first
    if (in_.size() - at < want) {
      std::size_t take = std::min(want - (in_.size() - at), bytes.size());
      in_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (in_.size() - at < want) break;  // the bytes ran out
      if (*n == 0) continue;
    }
    serve_frame(std::string_view(in_).substr(at, want));
    at += want;
  }
  in_.erase(0, at);
  if (!in_.empty()) {  // held back, or inside a frame still: the rest waits behind
    in_.append(bytes);
    return {};
  }
  // Then whole frames where they lie in `bytes`; only what is left is kept.
  at = 0;
  for (;;) {
    if (hold_ && hold_()) break;
    std::string_view rest = bytes.substr(at);
    auto n = next_frame_size(rest, msize_);
    if (!n) return n.err();
    if (*n == 0 || rest.size() < *n) break;
    serve_frame(rest.substr(0, *n));
    at += *n;
  }
  in_.assign(bytes.substr(at));
  return {};
}

void server::serve_frame(std::string_view one) {
  auto f = decode_t(one, msize_);
  if (!f) {
    complain(f.err().message);
    return send_unserved(peek_tag(one),
                         rlerror{static_cast<std::uint32_t>(to_errno(errc::invalid))});
  }
  // A tag in flight names its request until the reply: a second request
  // with it is refused here, so its refusal never counts off the first
  // one's bytes (the session refuses it alike).
  if (reserved_.count(f->tag) && !std::holds_alternative<tversion>(f->message)) {
    complain("9p: tag " + std::to_string(f->tag) + " is in use by a request in flight");
    return send_unserved(f->tag, rlerror{static_cast<std::uint32_t>(to_errno(errc::invalid))});
  }
  std::size_t reserve = reserve_for(f->message, one.size(), msize_);
  reserved_.emplace(f->tag, reserve);
  in_flight_ += reserve;
  serve(f->tag, f->message);
}

void server::send_unserved(std::uint16_t tag, const rmessage& m) {
  if (!closing_) send_(tag, m);
}

void server::version(std::uint16_t tag, const tversion& m) {
  // A new session: the old one's requests end unanswered (9P: Tversion
  // aborts all outstanding I/O), and what it held is aborted.
  ++generation_;
  ses_.reset();
  callers_.clear();
  reserved_.clear();  // the old session's requests are never answered
  in_flight_ = 0;
  reserved_.emplace(tag, small_reply);  // this one is
  in_flight_ = small_reply;
  if (m.version.substr(0, 8) != version_9p2000l) {
    complain("9p: version \"" + m.version + "\" is not 9P2000.L; answered \"unknown\"");
    versioned_ = false;
    return send(tag, rversion{msize_, std::string(version_unknown)});
  }
  msize_ = std::min(m.msize, max_msize);
  if (msize_ < min_msize) {
    versioned_ = false;
    return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(errc::invalid))});
  }
  versioned_ = true;
  ses_ = std::make_unique<session>(space_);
  send(tag, rversion{msize_, std::string(version_9p2000l)});
}

void server::attach(std::uint16_t tag, const tattach& m) {
  caller c = peer_;
  // Only root may speak for another uid, or another caller of its own
  // (a member forwarding for a root shell names its session); everyone
  // else is who the kernel says it is, whatever uname or n_uname it sends.
  bool speaks_for = peer_.uid == 0 && m.n_uname != nofid;
  if (speaks_for && m.n_uname != 0) {
    auto p = principal_of(m.n_uname);
    if (!p) {
      space_.log("refused: " + p.err().message);
      return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(p.err().code))});
    }
    static_cast<principal&>(c) = std::move(*p);
  }
  if (speaks_for && (m.n_uname != 0 || !m.uname.empty())) c.key = forwarded_key(peer_.key, m.n_uname, m.uname);
  relays_ = relays_ || speaks_for;
  fid_t fid = m.fid;
  std::uint64_t serial = bind_as(fid, c);
  ses_->attach(c, tag, fid, [this, tag, fid, serial, gen = generation_](result<attr> r) {
    if (gen != generation_) return;
    if (!r) {
      unbind_if(fid, serial);
      return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(r.err().code))});
    }
    send(tag, rattach{qid_of(*r)});
  });
}

void server::serve(std::uint16_t tag, tmessage& msg) {
  if (auto* v = std::get_if<tversion>(&msg)) return version(tag, *v);
  if (!versioned_)
    return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(errc::invalid))});
  session& s = *ses_;
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, tauth>) {
          // No authentication: the socket's peer credentials are the
          // principal. ENOENT is what diod's clients expect for "none".
          send(tag, rlerror{static_cast<std::uint32_t>(to_errno(errc::not_found))});
        } else if constexpr (std::is_same_v<M, tattach>) {
          attach(tag, m);
        } else if constexpr (std::is_same_v<M, tflush>) {
          s.flush(m.oldtag, answer_void(tag, rflush{}));
        } else if constexpr (std::is_same_v<M, twalk>) {
          fid_t fid = m.fid, newfid = m.newfid;
          std::size_t asked = m.wnames.size();
          // newfid is the walking caller's at once: requests pipelined
          // behind the walk name it before its answer, and run as that
          // caller (an attach's uid), never as the connection's peer.
          std::uint64_t early = newfid != fid && !callers_.count(newfid) ? bind(newfid, fid) : 0;
          auto answered = answer<std::vector<attr>>(
              tag, [this, newfid, asked, early](std::vector<attr>& as) -> rmessage {
                if (early && as.size() != asked) unbind_if(newfid, early);
                rwalk r;
                for (auto& a : as) r.wqids.push_back(qid_of(a));
                return r;
              });
          s.walk(who(fid), tag, fid, newfid, std::move(m.wnames), walk_needs::qids,
                 [this, answered, newfid, early,
                  gen = generation_](result<std::vector<attr>> r) mutable {
                   if (!r && early && gen == generation_) unbind_if(newfid, early);
                   answered(std::move(r));
                 });
        } else if constexpr (std::is_same_v<M, tlopen>) {
          std::uint32_t iounit = msize_ - rread_overhead;
          s.lopen(who(m.fid), tag, m.fid, open_flags(m.flags),
                  answer<attr>(tag, [iounit](attr& a) -> rmessage { return rlopen{qid_of(a), iounit}; }));
        } else if constexpr (std::is_same_v<M, tlcreate>) {
          std::uint32_t iounit = msize_ - rread_overhead;
          s.lcreate(who(m.fid), tag, m.fid, m.name, create_flags(m.flags), m.mode & 07777,
                    answer<attr>(tag, [iounit](attr& a) -> rmessage { return rlcreate{qid_of(a), iounit}; }));
        } else if constexpr (std::is_same_v<M, tread>) {
          std::size_t count = std::min<std::size_t>(m.count, msize_ - rread_overhead);
          s.read(who(m.fid), tag, m.fid, m.offset, count,
                 answer<std::string>(tag, [](std::string& d) -> rmessage { return rread{std::move(d)}; }));
        } else if constexpr (std::is_same_v<M, twrite>) {
          s.write(who(m.fid), tag, m.fid, m.offset, std::move(m.data),
                  answer<std::size_t>(tag, [](std::size_t& n) -> rmessage {
                    return rwrite{static_cast<std::uint32_t>(n)};
                  }));
        } else if constexpr (std::is_same_v<M, tclunk>) {
          // The fid is the client's to reuse once the clunk is sent (9P),
          // and a walk pipelined behind it may name it as its newfid: it
          // is unbound now, not at the answer, which would unbind the new
          // walk's caller (whose requests would then run as this peer).
          fid_t fid = m.fid;
          caller c = who(fid);
          unbind(fid);
          s.clunk(c, tag, fid, [this, tag, gen = generation_](result<void> r) {
            if (gen != generation_) return;
            if (!r) return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(r.err().code))});
            send(tag, rclunk{});
          });
        } else if constexpr (std::is_same_v<M, tremove>) {
          fid_t fid = m.fid;  // as a clunk: unbound now
          caller c = who(fid);
          unbind(fid);
          s.remove(c, tag, fid, [this, tag, gen = generation_](result<void> r) {
            if (gen != generation_) return;
            if (!r) return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(r.err().code))});
            send(tag, rremove{});
          });
        } else if constexpr (std::is_same_v<M, tgetattr>) {
          s.getattr(who(m.fid), tag, m.fid, answer<attr>(tag, [](attr& a) -> rmessage { return getattr_of(a); }));
        } else if constexpr (std::is_same_v<M, tsetattr>) {
          // Truncation and times are accepted and ignored, as on the mount;
          // modes and owners are fixed.
          constexpr std::uint32_t ignored = setattr_size | setattr_atime | setattr_mtime | setattr_ctime |
                                            setattr_atime_set | setattr_mtime_set;
          if (m.valid & ~ignored)
            return send(tag, rlerror{static_cast<std::uint32_t>(to_errno(errc::not_permitted))});
          s.getattr(who(m.fid), tag, m.fid, answer<attr>(tag, [](attr&) -> rmessage { return rsetattr{}; }));
        } else if constexpr (std::is_same_v<M, treaddir>) {
          std::size_t room = std::min<std::size_t>(m.count, msize_ - rread_overhead);
          std::uint64_t first = m.offset;
          s.readdir(who(m.fid), tag, m.fid, first,
                    answer<std::vector<dir_entry>>(tag, [room, first](std::vector<dir_entry>& es) -> rmessage {
                      rreaddir r;
                      std::uint64_t index = first;
                      for (auto& e : es) {
                        dirent d{qid_of(e.a), ++index, e.a.is_dir ? dt_dir : dt_reg, e.name};
                        if (r.data.size() + dirent_size(d) > room) break;
                        encode_dirent(r.data, d);
                      }
                      return r;
                    }));
        } else if constexpr (std::is_same_v<M, tmkdir>) {
          s.mkdir(who(m.dfid), tag, m.dfid, m.name,
                  answer<attr>(tag, [](attr& a) -> rmessage { return rmkdir{qid_of(a)}; }));
        } else if constexpr (std::is_same_v<M, tunlinkat>) {
          s.unlinkat(who(m.dirfid), tag, m.dirfid, m.name, (m.flags & at_removedir) != 0,
                     answer_void(tag, runlinkat{}));
        } else if constexpr (std::is_same_v<M, trenameat>) {
          s.refuse(who(m.olddirfid), tag, m.olddirfid, m.oldname, "rename", answer_void(tag, rrenameat{}));
        } else if constexpr (std::is_same_v<M, tsymlink>) {
          s.refuse(who(m.fid), tag, m.fid, m.name, "symlink", answer_void(tag, rsymlink{}));
        } else if constexpr (std::is_same_v<M, tlink>) {
          s.refuse(who(m.dfid), tag, m.dfid, m.name, "link", answer_void(tag, rlink{}));
        } else if constexpr (std::is_same_v<M, tmknod>) {
          s.refuse(who(m.dfid), tag, m.dfid, m.name, "create", answer_void(tag, rmknod{}));
        } else if constexpr (std::is_same_v<M, tfsync>) {
          s.fsync(who(m.fid), tag, m.fid, answer_void(tag, rfsync{}));
        } else if constexpr (std::is_same_v<M, tstatfs>) {
          s.getattr(who(m.fid), tag, m.fid, answer<attr>(tag, [](attr&) -> rmessage {
                      return rstatfs{v9fs_magic, 4096, 0, 0, 0, 0, 0, 0, 64};
                    }));
        } else {
          // Valid 9P messages circuit does not serve (readlink, locks, xattrs,
          // 9P2000's Topen ...), and replies sent as requests.
          send(tag, rlerror{static_cast<std::uint32_t>(to_errno(errc::not_supported))});
        }
      },
      msg);
}

}  // namespace circuit::wire
