// seal.hpp — sealed gossip datagrams: authenticated encryption of one
// packet with a key derived from the cluster key (derive(key,
// gossip_label)).
//
// A sealed packet is
//
//   version (1 byte, 1) | nonce (12 bytes, random) | ciphertext | tag (16 bytes)
//
// with ChaCha20-Poly1305, the version byte as associated data. A random
// 96-bit nonce per packet is safe for far more packets than a cluster
// sends under one key (the chance of a repeat stays below 2^-32 until
// about 2^32 packets). Nothing of a packet can be read or changed without
// the key; a replayed packet opens fine, so the membership protocol must
// tolerate replays (SWIM's incarnation numbers do).
//
// Thread safety: both functions are pure; call them from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "circuit/cluster/key.hpp"
#include "circuit/core/error.hpp"

namespace circuit::cluster {

inline constexpr std::uint8_t seal_version = 1;
// What sealing adds to a packet: version, nonce and tag.
inline constexpr std::size_t seal_overhead = 1 + 12 + 16;

// `plain` sealed under `key`.
std::string seal(const key32& key, std::string_view plain);

// The plaintext of `sealed`. Refuses, with errc::invalid and never more
// than that, a packet that is too short, of another version, sealed
// under another key, or changed in any byte.
result<std::string> open(const key32& key, std::string_view sealed);

}  // namespace circuit::cluster
