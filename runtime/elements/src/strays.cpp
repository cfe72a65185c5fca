#include "strays.hpp"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "descendants.hpp"

namespace circuit {
namespace {

constexpr auto by_pidfd = static_cast<idtype_t>(3);  // P_PIDFD (Linux 5.4)

// Static storage: the handle outlives the loop's last walk (uv_driver
// closes every handle left), and nothing of it is freed after.
uv_signal_t sigchld;
bool adopting = false;
std::function<void(std::string_view)> log_line;
std::unordered_set<pid_t> owned;

// The pids of libuv's own children (uv_spawn), which libuv reaps.
std::vector<pid_t> libuv_children() {
  std::vector<pid_t> out;
  if (!adopting) return out;
  uv_walk(
      sigchld.loop,
      [](uv_handle_t* h, void* arg) {
        if (h->type == UV_PROCESS)
          static_cast<std::vector<pid_t>*>(arg)->push_back(reinterpret_cast<uv_process_t*>(h)->pid);
      },
      &out);
  return out;
}

// In one of this daemon's cgroups: its worker's group tracks it.
bool in_our_cgroup(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cgroup");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return text.find("/circuitd-" + std::to_string(getpid()) + "/") != std::string::npos;
}

}  // namespace

void adopt_strays(uv_loop_t* loop, std::function<void(std::string_view)> log) {
  if (adopting) return;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return;
  adopting = true;
  log_line = std::move(log);
  uv_signal_init(loop, &sigchld);
  uv_signal_start(&sigchld, [](uv_signal_t*, int) { sweep_strays(); }, SIGCHLD);
}

void own_child(pid_t pid) { owned.insert(pid); }
void disown_child(pid_t pid) { owned.erase(pid); }

void sweep_strays() {
  if (!adopting) return;
  auto libuv = libuv_children();
  for (pid_t p : children_of(getpid(), true)) {
    if (owned.count(p) || std::find(libuv.begin(), libuv.end(), p) != libuv.end()) continue;
    int fd = open_pidfd(p);
    if (fd < 0) continue;
    siginfo_t info{};
    // Still our child (the pid was not reused by a stranger meanwhile)?
    // waitid on a pidfd answers only for one's own children.
    if (waitid(by_pidfd, fd, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || (info.si_pid == 0 && in_our_cgroup(p))) {
      close(fd);
      continue;
    }
    // A child the daemon started itself (libfuse's fusermount3, say) is in
    // the daemon's session; a worker's process never is (its reaper began
    // a session of its own, and what is below may only begin others).
    if (info.si_pid == 0 && getsid(p) == getsid(0)) {
      close(fd);
      continue;
    }
    if (info.si_pid == 0) {
      syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
      if (log_line) log_line("killed pid " + std::to_string(p) + ", a stray of a worker whose reaper had gone");
    }
    info = {};
    waitid(by_pidfd, fd, &info, WEXITED | WNOHANG);  // not yet dead: the next SIGCHLD
    close(fd);
  }
}

}  // namespace circuit
