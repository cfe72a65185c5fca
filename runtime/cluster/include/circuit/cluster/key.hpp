// key.hpp — the cluster key: the one secret every member of a cluster
// holds (circuitd keygen FILE, copied to every host).
//
// Nothing else authenticates a peer: a member proves it holds the key by
// finishing a TLS 1.3 handshake keyed from it (link.hpp), and seals its
// gossip with another key derived from it (seal.hpp). So the file must be
// readable by its owner only, and load_key refuses one that is not.
//
// The file is 64 hexadecimal digits (256 random bits) and a newline.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "circuit/core/error.hpp"

namespace circuit::cluster {

// 32 bytes of key material: the cluster key, or a key derived from it.
using key32 = std::array<std::uint8_t, 32>;

// The cluster key as loaded from its file.
struct cluster_key {
  key32 bytes{};
};

// Writes a new random key to `path`, created with mode 0600. Refuses a
// path that exists (errc::exists: an old key is never overwritten, since
// every member holds a copy of it) and reports any other failure with the
// path and the system's words.
result<void> write_new_key(const std::string& path);

// Loads the key at `path`. Refuses (errc::access) a file that group or
// others may read, saying how to fix it, and (errc::invalid) a file that
// is not exactly 64 hex digits and an optional newline.
result<cluster_key> load_key(const std::string& path);

// A key for one purpose, derived from the cluster key by HKDF-SHA256 with
// `label` as its info: keys of different labels are independent, so the
// TLS key and the gossip key never coincide.
key32 derive(const cluster_key& key, std::string_view label);

// The labels in use; a new use of the key gets a new label.
inline constexpr std::string_view link_label = "circuit peer link v1";
inline constexpr std::string_view gossip_label = "circuit gossip v1";

}  // namespace circuit::cluster
