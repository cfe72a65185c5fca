// circuit-reaper — the small per-worker subreaper circuitd starts in front
// of a worker's process where it cannot give the worker a cgroup. The
// protocol is in circuit/elements/reaper.hpp; why it exists, in
// runtime/elements/src/descendants.hpp and circuitd(8).
//
// It holds no state but the pid of the worker's process, blocks every
// signal it can (a worker's `kill 0` reaches its whole process group,
// this process included), and spends its life in waitid(P_ALL).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "circuit/elements/reaper.hpp"

extern char** environ;

namespace {

int report_fd = -1;

void say(circuit::reaper::kind what, int a, int b) {
  circuit::reaper::record r{what, a, b};
  while (write(report_fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: circuit-reaper FD PATH [ARG...] (started by circuitd)\n");
    return 2;
  }
  report_fd = atoi(argv[1]);
  if (fcntl(report_fd, F_SETFD, FD_CLOEXEC) != 0) return 2;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    say(circuit::reaper::kind::failed, errno, 0);
    return 127;
  }
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  // The worker's process gets what circuitd gave this one: every signal at
  // its default, none blocked.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setsigmask(&attr, &none);
  pid_t leader = 0;
  int e = posix_spawn(&leader, argv[2], nullptr, &attr, argv + 2, environ);
  posix_spawnattr_destroy(&attr);
  if (e != 0) {
    say(circuit::reaper::kind::failed, e, 0);
    _exit(127);
  }
  say(circuit::reaper::kind::started, leader, 0);
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED) != 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing is left below
    }
    if (info.si_pid == leader) say(circuit::reaper::kind::exited, info.si_code, info.si_status);
  }
  // _exit, not return: nothing is left to flush, and exit handlers are for
  // tools that do not expect every signal blocked (LeakSanitizer's stops
  // the world with a signal, and waited for it here for ever, spinning).
  _exit(0);
}
