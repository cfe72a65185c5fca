// dial.hpp — the face side of `mount SOCKET NAME` (host ctl): connects to a
// 9P2000.L server's Unix socket and makes the remote that serves its tree
// (wire::mount). The mounting daemon dials, as a Plan 9 mount does.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "circuit/core/error.hpp"
#include "circuit/core/remote.hpp"

namespace circuit::fsd {

// Connects and negotiates the version at once (a server that does not
// answer within `deadline` is refused), so the ctl write that asks for the
// mount fails if it cannot be made.
result<std::shared_ptr<remote>> dial(boost::asio::io_context& io, const std::string& socket,
                                     const std::string& name, std::chrono::milliseconds deadline);

}  // namespace circuit::fsd
