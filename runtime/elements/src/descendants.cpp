#include "descendants.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace circuit {
namespace {

struct proc_row {
  pid_t pid, ppid;
  bool zombie;
};

// Every process of /proc, with its parent and whether it has ended.
std::vector<proc_row> all_processes() {
  std::vector<proc_row> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    // Field 2 is "(comm)" and may hold anything: fields go on after the last ')'.
    const char* p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2]) continue;
    char state = p[2];
    pid_t ppid = static_cast<pid_t>(atoi(p + 4));
    out.push_back({static_cast<pid_t>(atoi(e->d_name)), ppid, state == 'Z' || state == 'X'});
  }
  closedir(d);
  return out;
}

}  // namespace

std::vector<pid_t> descendants_of(pid_t root) {
  std::unordered_multimap<pid_t, const proc_row*> by_parent;
  auto rows = all_processes();
  for (auto& r : rows) by_parent.emplace(r.ppid, &r);
  std::vector<pid_t> out, todo{root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    auto [from, to] = by_parent.equal_range(p);
    for (auto it = from; it != to; ++it) {
      todo.push_back(it->second->pid);  // a zombie's children are still below
      if (!it->second->zombie) out.push_back(it->second->pid);
    }
  }
  return out;
}

std::vector<pid_t> children_of(pid_t parent, bool zombies) {
  std::vector<pid_t> out;
  for (auto& r : all_processes())
    if (r.ppid == parent && (zombies || !r.zombie)) out.push_back(r.pid);
  return out;
}

int open_pidfd(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Signals each of `pids` that list() still names, through a pidfd opened
// before that second listing; returns the pids it reached.
std::vector<pid_t> send_checked(const std::vector<pid_t>& pids,
                                const std::function<std::vector<pid_t>()>& list, int sig) {
  std::vector<std::pair<pid_t, int>> held;
  for (pid_t p : pids)
    if (int fd = open_pidfd(p); fd >= 0) held.emplace_back(p, fd);
  std::vector<pid_t> reached;
  if (!held.empty()) {
    auto still = list();
    std::sort(still.begin(), still.end());
    for (auto [p, fd] : held)
      if (std::binary_search(still.begin(), still.end(), p) &&
          syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) == 0)
        reached.push_back(p);
  }
  for (auto& h : held) close(h.second);
  return reached;
}

std::size_t signal_each(const std::function<std::vector<pid_t>()>& list, int sig) {
  return send_checked(list(), list, sig).size();
}

// A killed process lingers a moment before it is a zombie: it is killed
// once; the rounds go on only while new processes turn up.
void kill_each(const std::function<std::vector<pid_t>()>& list) {
  std::vector<pid_t> killed;
  for (int round = 0; round < 20; ++round) {
    std::vector<pid_t> fresh;
    for (pid_t p : list())
      if (std::find(killed.begin(), killed.end(), p) == killed.end()) fresh.push_back(p);
    if (fresh.empty()) return;
    auto got = send_checked(fresh, list, SIGKILL);
    if (got.empty()) return;
    killed.insert(killed.end(), got.begin(), got.end());
  }
}

}  // namespace circuit
