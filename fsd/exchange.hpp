// exchange.hpp — the membership's reliable request and reply over a peer
// link (cluster/membership.hpp, transport::exchange): the full state
// exchange at join and the periodic push-pull. A link's first byte says
// what it carries (cluster_face.hpp): after 'P' comes the dialing member's
// name as one message, then 9P; after 'X', one request and
// one reply, each a 4-byte big-endian length and that many bytes (at most
// max_message), and the link closes.
//
// Thread safety: the loop thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "circuit/cluster/link.hpp"

namespace circuit::fsd::exchange {

inline constexpr char session_byte = 'P';   // a 9P session follows
inline constexpr char exchange_byte = 'X';  // one membership exchange follows
inline constexpr std::size_t max_message = 16u << 20;

// One message: its 4-byte length and its bytes.
std::string framed(const std::string& body);
// Reads one message of at most `max` bytes from `link` (`done` once: it,
// or why not; a longer one is refused before its bytes are read). With an
// `idle` time, a wait that long for the next byte closes the link, and
// `done` gets host_unreachable, "exchange: no answer within N s".
void read_message(std::shared_ptr<cluster::peer_link> link, std::size_t max,
                  std::function<void(result<std::string>)> done,
                  std::chrono::steady_clock::duration idle = {});

// Reads a request from `link`, answers it with `answer(request)`, closes.
void serve(std::shared_ptr<cluster::peer_link> link, std::function<std::string(std::string)> answer);

// Dials `address`, sends `request`, and gives `reply` the answer or why
// there is none (once). `opts.deadline` bounds the handshake and each
// wait for the next byte of the reply: a member that takes the request
// and never answers (stopped, wedged, hostile) is given up on then.
void ask(boost::asio::any_io_executor ex, std::string address, cluster::link_context& ctx,
         cluster::link_options opts, std::string request, std::function<void(result<std::string>)> reply);

}  // namespace circuit::fsd::exchange
