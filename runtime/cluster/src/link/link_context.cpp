// link_context.cpp — TLS 1.3 contexts keyed by an external PSK.
//
// OpenSSL asks the dialing side for the PSK it offers (use_session) and
// the accepting side for the PSK an identity names (find_session); each
// answers with a session holding the derived key as its resumption
// secret. Every member has the same key and identity, so the identity
// says nothing about who dials: the key is the whole proof.
#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "circuit/cluster/link.hpp"

namespace circuit::cluster {
namespace {

namespace ssl = boost::asio::ssl;

constexpr unsigned char identity[] = "circuit";
constexpr std::size_t identity_size = sizeof identity - 1;
constexpr unsigned char suite_id[] = {0x13, 0x01};  // TLS_AES_128_GCM_SHA256
constexpr const char* suite_name = "TLS_AES_128_GCM_SHA256";

// Where a context keeps its link_context (Asio holds its own app data).
int ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const key32& psk_of(SSL* s) {
  auto* ctx = static_cast<link_context*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_index()));
  return ctx->psk();
}

// A session that resumes from the PSK; null when OpenSSL refuses one
// (the handshake then fails, which is the safe side).
SSL_SESSION* psk_session(SSL* s, const SSL_CIPHER* suite) {
  SSL_SESSION* sess = SSL_SESSION_new();
  const key32& psk = psk_of(s);
  if (sess && SSL_SESSION_set1_master_key(sess, psk.data(), psk.size()) == 1 &&
      SSL_SESSION_set_cipher(sess, suite) == 1 &&
      SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION) == 1)
    return sess;
  SSL_SESSION_free(sess);
  return nullptr;
}

int use_session(SSL* s, const EVP_MD* md, const unsigned char** id, std::size_t* id_len,
                SSL_SESSION** sess) {
  *sess = nullptr;
  const SSL_CIPHER* suite = SSL_CIPHER_find(s, suite_id);
  if (!suite) return 0;
  // After a HelloRetryRequest OpenSSL asks again with the hash it chose.
  if (md && md != SSL_CIPHER_get_handshake_digest(suite)) return 1;
  *sess = psk_session(s, suite);
  *id = identity;
  *id_len = identity_size;
  return *sess ? 1 : 0;
}

int find_session(SSL* s, const unsigned char* id, std::size_t id_len, SSL_SESSION** sess) {
  *sess = nullptr;
  // An unknown identity: no PSK, and with no certificate either the
  // handshake fails.
  if (id_len != identity_size || std::memcmp(id, identity, identity_size) != 0) return 1;
  const SSL_CIPHER* suite = SSL_CIPHER_find(s, suite_id);
  if (!suite) return 0;
  *sess = psk_session(s, suite);
  return *sess ? 1 : 0;
}

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "circuitd: link: OpenSSL refused %s\n", what);
  std::abort();
}

void restrict(ssl::context& c, link_context* owner) {
  SSL_CTX* h = c.native_handle();
  // TLS 1.3 only, one suite, no tickets: nothing to negotiate down to.
  if (SSL_CTX_set_min_proto_version(h, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(h, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(h, suite_name) != 1 || SSL_CTX_set_num_tickets(h, 0) != 1 ||
      SSL_CTX_set_ex_data(h, ex_index(), owner) != 1)
    broken("the TLS 1.3 settings");
  SSL_CTX_set_options(h, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(h, SSL_SESS_CACHE_OFF);
}

}  // namespace

link_context::link_context(const cluster_key& key)
    : psk_(derive(key, link_label)),
      server_(ssl::context::tls_server),
      client_(ssl::context::tls_client) {
  restrict(server_, this);
  restrict(client_, this);
  SSL_CTX_set_psk_find_session_callback(server_.native_handle(), find_session);
  SSL_CTX_set_psk_use_session_callback(client_.native_handle(), use_session);
}

link_context::~link_context() { OPENSSL_cleanse(psk_.data(), psk_.size()); }

}  // namespace circuit::cluster
