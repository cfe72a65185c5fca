// relay_floor.cpp — see relay_floor.hpp.
#include "relay_floor.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "harness.hpp"

namespace bench {

relay_floor::relay_floor(circuit::cluster::link_context* ctx, std::vector<batch> batches, std::vector<batch> trips,
                         std::chrono::nanoseconds poll)
    : pair_(io_, ctx), batches_(std::move(batches)), trips_(std::move(trips)), poll_(poll) {
  if (batches_.size() != trips_.size()) throw std::runtime_error("relay_floor: a round trip per batch");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  client_ = sv[0];
  relay_fd_ = sv[1];
  suite_ = pair_.dialer->suite();
  server_ = std::thread([this] { serve(); });
  relay_ = std::thread([this] { relay(); });
}

relay_floor::~relay_floor() {
  close(client_);  // the relay reads end of file and closes its link; the server follows
  relay_.join();
  server_.join();
  close(relay_fd_);
}

void relay_floor::round_trip() {
  for (auto& b : batches_) {
    if (!write_all(client_, requests(b))) fail("floor write");
    if (!read_exactly(client_, replies(b).size())) fail("floor read");
  }
}

void relay_floor::relay() {
  try {
    for (;;)
      for (std::size_t i = 0; i < batches_.size(); ++i) {
        await_readable(relay_fd_, poll_);
        if (!read_exactly(relay_fd_, requests(batches_[i]).size())) return pair_.dialer->close();
        pair_.dialer->write(requests(trips_[i]));
        await_readable(pair_.dialer->fd(), poll_);
        if (!pair_.dialer->read_exactly(replies(trips_[i]).size())) throw std::runtime_error("server went");
        write_all(relay_fd_, replies(batches_[i]));
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relay: %s\n", e.what());
    pair_.dialer->close();
  }
}

void relay_floor::serve() {
  try {
    for (;;)
      for (auto& trip : trips_) {
        await_readable(pair_.acceptor->fd(), poll_);
        if (!pair_.acceptor->read_exactly(requests(trip).size())) return;
        pair_.acceptor->write(replies(trip));
      }
  } catch (const std::exception&) {
  }  // the relay closed its end
}

}  // namespace bench
