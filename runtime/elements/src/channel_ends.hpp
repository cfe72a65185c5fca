// channel_ends.hpp — the open files of a channel's `send` and `recv`
// (channel.hpp says the rules they follow).
#pragma once

#include <memory>

#include "channel.hpp"

namespace circuit {

// An open of `send` that holds a reserved place on `ch`.
handle_ptr make_send_end(std::shared_ptr<channel> ch);

// An open of `recv` that holds `msg`, taken from `ch`.
// `acknowledged`: the message counts as received only at a read past its
// end or a commit (clunk) after every byte was read, not when the last
// byte is handed out — for a receiver on another member, whose last bytes
// may be lost with its link (then the message goes back: twice, never lost).
handle_ptr make_recv_end(std::shared_ptr<channel> ch, message msg, bool acknowledged);

}  // namespace circuit
