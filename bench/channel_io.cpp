// channel_io.cpp — see channel_io.hpp.
#include "channel_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "harness.hpp"

namespace bench {

void send_messages(const std::string& send, const std::string& msg, int n) {
  for (int i = 0; i < n; ++i) {
    int fd = open(send.c_str(), O_WRONLY);
    if (fd < 0) fail("open " + send);
    if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) fail("write " + send);
    if (close(fd) != 0) fail("close " + send);
  }
}

void receive_messages(const std::string& recv, std::size_t size, int n, bool check, std::vector<double>* gaps) {
  std::vector<char> buf(size + 4096);
  auto last = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    int fd = open(recv.c_str(), O_RDONLY);
    if (fd < 0) fail("open " + recv);
    std::size_t got = 0;
    for (ssize_t r; (r = read(fd, buf.data() + got, buf.size() - got)) != 0; got += r)
      if (r < 0) fail("read " + recv);
    if (close(fd) != 0) fail("close " + recv);
    if (check && got != size)
      throw std::runtime_error(recv + ": received " + std::to_string(got) + " bytes, sent " + std::to_string(size));
    if (gaps) {
      auto now = std::chrono::steady_clock::now();
      gaps->push_back(std::chrono::duration<double>(now - last).count());
      last = now;
    }
  }
}

double concurrently(const std::function<void()>& send, const std::function<void()>& receive,
                    const std::vector<pid_t>& stop) {
  std::string error;
  auto guarded = [&](const std::function<void()>& work) {
    try {
      work();
    } catch (const std::exception& e) {
      if (error.empty()) error = e.what();
      for (pid_t p : stop) kill(p, SIGTERM);
    }
  };
  auto began = std::chrono::steady_clock::now();
  std::thread sender([&] { guarded(send); });
  guarded(receive);
  sender.join();
  if (!error.empty()) throw std::runtime_error(error);
  return seconds_since(began);
}

}  // namespace bench
