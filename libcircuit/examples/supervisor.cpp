// supervisor.cpp — a supervisor in the manner of Erlang's one_for_one: it
// starts its children as workers on a host, and when one crashes it starts
// that one again, and only that one, waiting twice as long before each
// restart, at most 3 times; then it gives up on it.
//
//   supervisor HOST CRASHES...
//
// Each CRASHES is a child: how many times it crashes before it does its
// job (a stand-in for a flaky one). `supervisor h2 2 0` prints
//   child 1: died of signal ABRT on attempt 1; restart in 100 ms
//   child 1: died of signal ABRT on attempt 2; restart in 200 ms
//   child 1: done on attempt 3: 10
//   child 2: done on attempt 1: 20
// A child given up on is told so, and the exit status is 1.
#include <circuit/circuit.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

constexpr int max_restarts = 3;
constexpr std::chrono::milliseconds first_backoff{100};

// A child's job, in a worker: it crashes (as a bug would, with no result)
// on its first `crashes` attempts, then answers.
int job(int child, int attempt, int crashes) {
  if (attempt <= crashes) std::abort();
  return child * 10;
}
CIRCUIT_REGISTER(job);

// How a worker that left no result ended, in words.
std::string how(const circuit::worker_died& e) {
  return e.signal().empty() ? "exited with status " + std::to_string(e.exit_code()) : "died of signal " + e.signal();
}

int main(int argc, char** argv) {
  circuit::runtime rt(argc, argv);  // in a spawned worker: runs the function, never returns
  if (argc < 3) {
    std::fprintf(stderr, "usage: supervisor HOST CRASHES...\n");
    return 2;
  }
  std::string host = argv[1];
  std::vector<int> crashes;
  for (int i = 2; i < argc; ++i) crashes.push_back(std::atoi(argv[i]));

  // Every child starts at once, on its first attempt.
  std::vector<circuit::spawned<int>> children;
  for (int c = 0; c < static_cast<int>(crashes.size()); ++c)
    children.push_back(rt.spawn(host, job, c + 1, 1, crashes[c]));

  // Each child in turn (the others run meanwhile): a crash restarts that
  // child alone. An app_error (the job threw) or a host gone down is not
  // what a restart mends: that child is given up on at once.
  int given_up = 0;
  for (int c = 0; c < static_cast<int>(children.size()); ++c) {
    auto backoff = first_backoff;
    for (int attempt = 1;; ++attempt) {
      try {
        int v = children[c].wait();
        std::printf("child %d: done on attempt %d: %d\n", c + 1, attempt, v);
        break;
      } catch (const circuit::worker_died& e) {
        if (attempt > max_restarts) {
          std::printf("child %d: %s on attempt %d; given up after %d restarts\n", c + 1, how(e).c_str(), attempt,
                      max_restarts);
          ++given_up;
          break;
        }
        std::printf("child %d: %s on attempt %d; restart in %lld ms\n", c + 1, how(e).c_str(), attempt,
                    static_cast<long long>(backoff.count()));
        std::fflush(stdout);
        std::this_thread::sleep_for(backoff);
        backoff *= 2;
        children[c] = rt.spawn(host, job, c + 1, attempt + 1, crashes[c]);
      } catch (const circuit::exception& e) {
        std::printf("child %d: %s; not restarted\n", c + 1, e.what());
        ++given_up;
        break;
      }
    }
  }
  return given_up ? 1 : 0;
}
