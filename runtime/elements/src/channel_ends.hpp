// channel_ends.hpp — the open files of a channel's `send` and `recv`
// (channel.hpp says the rules they follow).
#pragma once

#include <memory>

#include "channel.hpp"

namespace circuit {

// An open of `send` that holds a reserved place on `ch`.
handle_ptr make_send_end(std::shared_ptr<channel> ch);

// An open of `recv` that holds `msg`, taken from `ch`.
handle_ptr make_recv_end(std::shared_ptr<channel> ch, message msg);

}  // namespace circuit
