// seal.cpp — ChaCha20-Poly1305 through OpenSSL's EVP interface.
#include "circuit/cluster/seal.hpp"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace circuit::cluster {
namespace {

constexpr std::size_t nonce_size = 12, tag_size = 16;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// A failure of OpenSSL on valid input, or of the kernel's random source,
// leaves nothing safe to send: a packet sealed with a zero nonce or left
// unsealed would be worse than stopping.
[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "circuitd: seal: %s failed\n", what);
  std::abort();
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s, std::size_t at) {
  return reinterpret_cast<unsigned char*>(s.data() + at);
}

}  // namespace

std::string seal(const key32& key, std::string_view plain) {
  std::string out(seal_overhead + plain.size(), '\0');
  out[0] = static_cast<char>(seal_version);
  for (std::size_t got = 0; got < nonce_size;) {
    ssize_t n = ::getrandom(bytes(out, 1 + got), nonce_size - got, 0);
    if (n < 0 && errno != EINTR) broken("getrandom");
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, tail = 0;
  std::string_view version(out.data(), 1);
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, key.data(), bytes(out, 1)) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(version), 1) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(out, 1 + nonce_size), &len, bytes(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out, 1 + nonce_size + len), &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, tag_size,
                          bytes(out, out.size() - tag_size)) != 1)
    broken("ChaCha20-Poly1305");
  return out;
}

result<std::string> open(const key32& key, std::string_view sealed) {
  if (sealed.size() < seal_overhead)
    return make_error(errc::invalid, "gossip: packet too short to be sealed");
  if (static_cast<std::uint8_t>(sealed[0]) != seal_version)
    return make_error(errc::invalid, "gossip: packet of seal version " +
                                         std::to_string(static_cast<std::uint8_t>(sealed[0])) +
                                         ", not " + std::to_string(seal_version));
  auto nonce = sealed.substr(1, nonce_size);
  auto body = sealed.substr(1 + nonce_size, sealed.size() - seal_overhead);
  std::string tag(sealed.substr(sealed.size() - tag_size));
  std::string plain(body.size(), '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, tail = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, key.data(), bytes(nonce)) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(sealed.substr(0, 1)), 1) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(plain, 0), &len, bytes(body),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, tag_size, tag.data()) != 1)
    broken("ChaCha20-Poly1305");
  // Only the tag check may fail on input: a changed byte, or another key.
  if (EVP_DecryptFinal_ex(ctx.get(), bytes(plain, static_cast<std::size_t>(len)), &tail) != 1)
    return make_error(errc::invalid,
                      "gossip: packet not sealed with this cluster's key, or changed");
  return plain;
}

}  // namespace circuit::cluster
