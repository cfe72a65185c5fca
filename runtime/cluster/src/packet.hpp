// packet.hpp — the membership protocol's messages, and their bytes.
//
// A datagram is a version byte (1) and one or more messages, each a kind
// byte and its fields: integers as LEB128 varints, strings as a varint
// length and the bytes (at most max_text). A probe message (ping, ack, ...)
// comes first, gossip updates ride behind it; a gossip packet holds only
// updates. An exchange request or reply is a version byte, a kind byte and
// its body. Decoding trusts nothing: a packet that is cut, has an unknown
// version or kind, a varint that overflows, a string over max_text or
// bytes after its end is refused whole (errc::invalid, "cluster: ...").
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "circuit/cluster/membership.hpp"
#include "circuit/core/error.hpp"

namespace circuit::cluster::wire {

inline constexpr std::uint8_t version = 1;
inline constexpr std::size_t max_text = 512;
inline constexpr std::size_t max_entries = 1u << 20;  // state exchange

// "Answer `seq` to source_address if you are `target`."
struct ping {
  std::uint32_t seq = 0;
  std::string target, source, source_address;
};
// "Ping `target` for me; ack (or nack) `seq` back to source_address."
struct indirect_ping {
  std::uint32_t seq = 0;
  std::string target, target_address, source, source_address;
};
struct ack {
  std::uint32_t seq = 0;
};
struct nack {
  std::uint32_t seq = 0;
};
// Updates about one member, gossiped; `from` is who says so.
struct alive {
  std::string name;
  std::uint64_t id = 0;
  std::string address;
  std::uint32_t incarnation = 0;
};
struct suspect {
  std::string name;
  std::uint32_t incarnation = 0;
  std::string from;
};
struct dead {  // from == name: it left
  std::string name;
  std::uint32_t incarnation = 0;
  std::string from;
};

using message = std::variant<ping, indirect_ping, ack, nack, alive, suspect, dead>;

// Appends one message (without the version byte).
void encode_to(std::string& out, const message& m);
// A packet: the version byte, then the messages.
std::string encode(const std::vector<message>& ms);
result<std::vector<message>> decode(std::string_view packet);

// Exchange: a join or a push-pull carries the sender's view (its own entry
// first); the reply is the receiver's view, or a refusal with its reason.
enum class exchange_kind : std::uint8_t { join = 1, push_pull = 2, state = 3, refused = 4 };
struct exchange {
  exchange_kind kind = exchange_kind::push_pull;
  std::vector<member> members;  // join, push_pull, state
  std::string reason;           // refused
};
std::string encode_exchange(const exchange& e);
result<exchange> decode_exchange(std::string_view bytes);

}  // namespace circuit::cluster::wire
