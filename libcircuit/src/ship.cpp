// ship.cpp — the binary a spawned worker runs: this program's own
// (/proc/self/exe), in the host's binary store (bin/, circuit(4)) under its
// sha256, shipped there the first time a spawn on that host needs it.
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "circuit/errors.hpp"
#include "runtime_impl.hpp"
#include "session.hpp"

namespace circuit {

namespace {

// The sha256 of this program's binary, as sha256sum prints it (once).
const std::string& self_sha256() {
  static const std::string sha = [] {
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_error(errno, std::string("spawn: cannot read /proc/self/exe: ") + std::strerror(errno));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) EVP_DigestUpdate(ctx, buf, static_cast<std::size_t>(n));
    ::close(fd);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 15];
    }
    return out;
  }();
  return sha;
}

}  // namespace

// In bin/ of `host` now: a walk says so; else create, write in order
// (pipelined, a few MiB in flight), fsync (the store's verdict), clunk.
std::string runtime::binary_on(const std::string& host, bool again) {
  const std::string& sha = self_sha256();
  {
    std::lock_guard<std::mutex> lock(impl_->ship_mu);
    if (again) impl_->shipped.erase(host);
    if (impl_->shipped.count(host)) return sha;
  }
  std::string file = "/" + host + "/bin/" + sha;
  auto& s = session();
  auto& c = s.conn();
  if (auto there = c.walk({host, "bin", sha})) {
    (void)c.clunk(*there);
  } else {
    if (there.err().code != errc::not_found) s.fail(there.err(), "spawn", file, false);
    auto dir = c.walk({host, "bin"});
    if (!dir) {
      if (dir.err().code == errc::not_found) throw_error(ENOENT, "spawn: no host " + host + " in the cluster");
      s.fail(dir.err(), "spawn", "/" + host + "/bin", false);
    }
    auto made = c.create(*dir, sha, wire::o_wronly | wire::o_excl, 0500);
    if (!made) {
      if (made.err().code != errc::exists) s.fail(made.err(), "spawn: ship", file, true);
      (void)c.clunk(*dir);  // another spawn ships it now
    } else {
      // The fid `dir` is now the new file.
      int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw_error(errno, std::string("spawn: cannot read /proc/self/exe: ") + std::strerror(errno));
      auto& cl = c.raw();
      detail::batch b;
      std::uint64_t off = 0;
      std::size_t chunk = c.max_write();
      std::string buf(chunk, '\0');
      for (;;) {
        ssize_t n = ::read(fd, buf.data(), chunk);
        if (n <= 0) break;
        cl.write(*dir, off, buf.substr(0, static_cast<std::size_t>(n)), b.on<result<std::uint32_t>>("write"));
        off += static_cast<std::uint64_t>(n);
        if (b.out >= 8) c.run_until([&b] { return b.out < 4 || b.failed; });
        if (b.failed) break;
      }
      ::close(fd);
      c.run_until([&b] { return b.out == 0; });
      if (!b.failed) {
        if (auto r = c.fsync(*dir); !r) b.failed = r.err();
      }
      if (b.failed) {
        (void)c.remove(*dir);
        s.fail(*b.failed, "spawn: ship", file, true);
      }
      if (auto r = c.clunk(*dir); !r) s.fail(r.err(), "spawn: ship", file, true);
    }
  }
  std::lock_guard<std::mutex> lock(impl_->ship_mu);
  impl_->shipped.insert(host);
  return sha;
}

}  // namespace circuit
