// sha256.hpp — sha256 computed as the bytes come (OpenSSL's EVP), and the
// names of the binary store (bin/): a binary is named by its sha256, as
// sha256sum prints it.
//
// Thread safety: a plain value; one thread at a time.
#pragma once

#include <string>
#include <string_view>

#include "circuit/core/error.hpp"

struct evp_md_ctx_st;

namespace circuit {

class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  void update(std::string_view data);
  // The digest of the bytes so far, 64 lowercase hex digits; more may
  // come after.
  std::string hex() const;

 private:
  evp_md_ctx_st* ctx_;
};

// Whether `name` is a sha256 as a name: 64 lowercase hex digits. The
// error says what is wrong with it, prefixed by `what`.
result<void> check_sha256(std::string_view what, std::string_view name);

}  // namespace circuit
