#include "cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "descendants.hpp"

namespace circuit {
namespace {

std::string slurp(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

bool put(const std::string& path, std::string_view text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Where the cgroup2 hierarchy is mounted, from /proc/self/mounts.
std::string cgroup2_mount() {
  std::istringstream in(slurp("/proc/self/mounts"));
  std::string dev, dir, type, rest;
  while (in >> dev >> dir >> type && std::getline(in, rest))
    if (type == "cgroup2") return dir;
  return {};
}

// The daemon's own group, relative to the hierarchy: the "0::" line of
// /proc/self/cgroup.
std::string own_cgroup() {
  std::istringstream in(slurp("/proc/self/cgroup"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

// Groups left by daemons that died without removing them: removed when
// empty (a group with live processes stays; its workers are not ours).
void sweep_stale(const std::string& parent) {
  DIR* d = opendir(parent.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    if (sscanf(e->d_name, "circuitd-%d", &pid) != 1 || pid <= 0) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::string group = parent + "/" + e->d_name;
    if (DIR* g = opendir(group.c_str())) {
      while (dirent* w = readdir(g))
        if (w->d_name[0] == 'w') rmdir((group + "/" + w->d_name).c_str());
      closedir(g);
    }
    rmdir(group.c_str());
  }
  closedir(d);
}

// The daemon's group (circuitd-PID beside the daemon), made at the first
// worker and removed at exit when empty.
struct daemon_group {
  std::string own;   // the daemon's own group, as a directory
  std::string path;  // ours; empty when cgroups cannot be used
  daemon_group() {
    std::string mnt = cgroup2_mount(), rel = own_cgroup();
    if (mnt.empty() || rel.empty() || rel.find("..") != std::string::npos) return;
    own = rel == "/" ? mnt : mnt + rel;
    sweep_stale(own);
    std::string p = own + "/circuitd-" + std::to_string(getpid());
    if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) return;
    path = std::move(p);
  }
  ~daemon_group() {
    if (!path.empty()) rmdir(path.c_str());
  }
};

const daemon_group& group_of_daemon() {
  static daemon_group g;
  return g;
}

}  // namespace

std::unique_ptr<cgroup> cgroup::make() {
  static std::atomic<unsigned long> next{0};
  const daemon_group& d = group_of_daemon();
  if (d.path.empty()) return nullptr;
  std::string p = d.path + "/w" + std::to_string(++next);
  if (mkdir(p.c_str(), 0755) != 0) return nullptr;
  int dir = open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = open((p + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (dir < 0 || fd < 0) {
    if (dir >= 0) close(dir);
    if (fd >= 0) close(fd);
    rmdir(p.c_str());
    return nullptr;
  }
  return std::unique_ptr<cgroup>(new cgroup(std::move(p), dir, fd));
}

cgroup::~cgroup() {
  close(procs_fd_);
  close(dir_fd_);
}

std::vector<pid_t> cgroup::pids() const {
  std::vector<pid_t> out;
  if (removed_) return out;
  std::istringstream in(slurp(path_ + "/cgroup.procs"));
  for (pid_t p; in >> p;) out.push_back(p);
  return out;
}

bool cgroup::populated() const {
  if (removed_) return false;
  std::string ev = slurp(path_ + "/cgroup.events");
  if (ev.empty()) return !pids().empty();  // unreadable: ask the list
  return ev.find("populated 1") != std::string::npos;
}

// By pidfd, checked against a second reading of cgroup.procs, so a pid
// reused by a stranger between the reading and the signal is never hit
// (descendants.hpp says why that holds).
std::size_t cgroup::signal(int sig) const {
  return signal_each([this] { return pids(); }, sig);
}

void cgroup::kill() const {
  if (removed_ || put(path_ + "/cgroup.kill", "1")) return;
  // Before Linux 5.14: one by one, again while some fork.
  kill_each([this] { return pids(); });
}

void cgroup::release() {
  std::string home = group_of_daemon().own + "/cgroup.procs";
  for (pid_t p : pids()) put(home, std::to_string(p));
  remove();
}

bool cgroup::remove() {
  if (removed_) return true;
  if (rmdir(path_.c_str()) != 0 && errno != ENOENT) return false;
  removed_ = true;
  return true;
}

}  // namespace circuit
