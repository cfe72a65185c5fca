// key.cpp — making, loading and deriving the cluster key.
#include "circuit/cluster/key.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace circuit::cluster {
namespace {

std::string sys_error(const std::string& path) {
  return "key " + path + ": " + std::strerror(errno);
}

// Fills `out` from the kernel's random source (it blocks only before the
// pool is first seeded, early at boot).
result<void> random_bytes(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    ssize_t got = ::getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error(errc::io, std::string("keygen: getrandom: ") + std::strerror(errno));
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return {};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

result<void> write_all(int fd, const std::string& text, const std::string& path) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(errc::io, sys_error(path));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return make_error(errc::io, sys_error(path));
  return {};
}

}  // namespace

result<void> write_new_key(const std::string& path) {
  key32 key{};
  if (auto r = random_bytes(key.data(), key.size()); !r) return r.err();
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  for (auto b : key) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  text += '\n';
  // O_EXCL: every member holds a copy of the old key, so replacing it
  // silently would cut this host off its cluster.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == EEXIST)
    return make_error(errc::exists, "key " + path +
                                        " exists already; a new key is never written over an old "
                                        "one: remove it first, or pick another file");
  if (fd < 0) return make_error(errc::io, sys_error(path));
  auto r = write_all(fd, text, path);
  ::close(fd);
  if (!r) ::unlink(path.c_str());
  return r;
}

result<cluster_key> load_key(const std::string& path) {
  // O_NONBLOCK: a FIFO put where the key should be must not hang the start.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    bool missing = errno == ENOENT;
    return make_error(
        missing ? errc::not_found : errc::io,
        sys_error(path) + (missing ? "; make one with: circuitd keygen " + path : ""));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto e = make_error(errc::io, sys_error(path));
    ::close(fd);
    return e;
  }
  char buf[80];
  ssize_t n = 0;
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) == 0) {
    do n = ::read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
  }
  int read_errno = errno;
  ::close(fd);
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid, "key " + path + " is not a regular file");
  // Anyone who can read the key can join the cluster as root; anyone who
  // can change it can cut this member off.
  if (st.st_mode & 077) {
    const char* how = (st.st_mode & 044) ? "read" : "changed";
    return make_error(errc::access, "key " + path + " may be " + how + " by others (mode " +
                                        octal_mode(st.st_mode) + "): chmod 600 " + path);
  }
  if (n < 0) return make_error(errc::io, "key " + path + ": " + std::strerror(read_errno));
  std::string_view text(buf, static_cast<std::size_t>(n));
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  cluster_key key;
  bool ok = text.size() == 2 * key.bytes.size();
  for (std::size_t i = 0; ok && i < key.bytes.size(); ++i) {
    int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    key.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  OPENSSL_cleanse(buf, sizeof buf);  // no copy of the key left on the stack
  if (!ok)
    return make_error(errc::invalid, "key " + path +
                                         " is not a cluster key (64 hex digits and a newline); "
                                         "make one with: circuitd keygen FILE");
  return key;
}

key32 derive(const cluster_key& key, std::string_view label) {
  key32 out{};
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  static constexpr std::string_view salt = "circuit cluster key";
  std::size_t len = out.size();
  bool ok =
      ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx, reinterpret_cast<const unsigned char*>(salt.data()),
                                  static_cast<int>(salt.size())) > 0 &&
      EVP_PKEY_CTX_set1_hkdf_key(ctx, key.bytes.data(), static_cast<int>(key.bytes.size())) > 0 &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const unsigned char*>(label.data()),
                                  static_cast<int>(label.size())) > 0 &&
      EVP_PKEY_derive(ctx, out.data(), &len) > 0 && len == out.size();
  EVP_PKEY_CTX_free(ctx);
  // HKDF-SHA256 fails only when OpenSSL itself is broken (no SHA-256):
  // nothing can be keyed then, and going on with a zero key would be worse.
  if (!ok) {
    std::fputs("circuitd: derive: OpenSSL's HKDF-SHA256 failed\n", stderr);
    std::abort();
  }
  return out;
}

}  // namespace circuit::cluster
