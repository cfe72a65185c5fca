#include "sha256.hpp"

#include <openssl/evp.h>

#include <cstdio>

#include "circuit/core/ctl.hpp"

namespace circuit {

sha256::sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }

sha256::~sha256() { EVP_MD_CTX_free(ctx_); }

void sha256::update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

std::string sha256::hex() const {
  // A copy ends; the running one goes on.
  EVP_MD_CTX* end = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(end, ctx_);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(end, md, &len);
  EVP_MD_CTX_free(end);
  std::string out;
  char two[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    out += two;
  }
  return out;
}

result<void> check_sha256(std::string_view what, std::string_view name) {
  bool hex = name.size() == 64;
  for (char c : name) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (hex) return {};
  return make_error(errc::invalid, std::string(what) + ": \"" + clip(name) + "\"" +
                                       " is not a sha256: a binary's name is its 64 lowercase hex digits "
                                       "(sha256sum < FILE | cut -c1-64)");
}

}  // namespace circuit
