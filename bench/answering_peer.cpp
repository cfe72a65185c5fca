// answering_peer.cpp — see answering_peer.hpp.
#include "answering_peer.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.hpp"
#include "socket_client.hpp"

namespace bench {

answering_peer::answering_peer(std::vector<exchange> script, std::chrono::nanoseconds poll) : poll_(poll) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  peer_ = fork();
  if (peer_ < 0) fail("fork");
  if (peer_ == 0) {  // system calls only: the parent may have threads
    close(sv[0]);
    for (;;)
      for (auto& e : script)
        if (await_readable(sv[1], poll), !read_exactly(sv[1], e.ask) || !write_all(sv[1], e.answer)) _exit(0);
  }
  close(sv[1]);
  fd_ = sv[0];
}

answering_peer::~answering_peer() {
  close(fd_);
  waitpid(peer_, nullptr, 0);
}

void answering_peer::ask(const std::string& bytes, std::size_t size) {
  if (!write_all(fd_, bytes)) fail("floor write");
  await_readable(fd_, poll_);
  if (!read_exactly(fd_, size)) fail("floor read");
}

}  // namespace bench
