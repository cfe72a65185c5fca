// dial.hpp — the face side of `mount SOCKET NAME` (host ctl): connects to a
// 9P2000.L server's Unix socket and makes the remote that serves its tree
// (wire::mount). The mounting daemon dials, as a Plan 9 mount does.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "circuit/core/budget.hpp"
#include "circuit/core/error.hpp"
#include "circuit/core/remote.hpp"

namespace circuit::fsd {

// Connects and negotiates the version at once (a server that does not
// answer within `deadline` is refused), so the ctl write that asks for the
// mount fails if it cannot be made.
// The listings of its directories are held against `held` (mount.hpp).
result<std::shared_ptr<remote>> dial(boost::asio::io_context& io, const std::string& socket,
                                     const std::string& name, std::chrono::milliseconds deadline,
                                     budget& held);

// The same without waiting, for a remote per directory of `tops` below the
// server's root, over one connection: connects (a server whose backlog is
// full is refused at once), negotiates the version on the loop, and calls
// `done` with the remotes or the failure (within `deadline`). For a
// worker's program (`name`, its directory): once its connection ends,
// every request on its files fails with ENOENT, as on a removed element's.
// It connects to `via`, the same socket held open (/proc/self/fd/N),
// before it returns; `socket` is the name its words give.
void dial_async(boost::asio::io_context& io, const std::string& socket, const std::string& via,
                const std::string& name, std::vector<std::string> tops,
                std::chrono::milliseconds deadline, budget& held,
                std::function<void(result<std::vector<std::shared_ptr<remote>>>)> done);

}  // namespace circuit::fsd
