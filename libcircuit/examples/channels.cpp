// channels.cpp — a producer thread and the main thread talk over a channel
// of this host; then, given a path, a message goes to another host's
// channel, as it would to this one's.
//
//   channels                          # prints "sum of squares: 14"
//   channels /h2/channels/inbox       # also sends "hello from HOST" there
#include <circuit/circuit.hpp>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  circuit::runtime rt(argc, argv);
  auto squares = rt.make_chan<std::vector<int>>("", 4);  // a unique name, removed at the end
  std::thread producer([&] {
    for (int i = 1; i <= 3; ++i) squares.send({i, i * i});
    squares.close();
  });
  int sum = 0;
  try {
    for (;;) sum += squares.recv()[1];
  } catch (const circuit::closed&) {
    // the producer is done and every message was taken
  }
  producer.join();
  std::printf("sum of squares: %d\n", sum);

  if (argc > 1) {
    try {
      auto inbox = rt.open_chan<std::string>(argv[1]);
      inbox.send("hello from " + rt.host(), std::chrono::seconds(10));
      std::printf("sent to %s\n", inbox.path().c_str());
    } catch (const circuit::exception& e) {
      std::fprintf(stderr, "channels: %s\n", e.what());
      return 1;
    }
  }
}
