#include "start.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "circuit/elements/reaper.hpp"

extern char** environ;

namespace circuit {
namespace {

// What the child needs, and where it says what failed. It lives on the
// daemon's stack; the child shares that memory until it executes.
struct start_args {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* dir;  // nullptr: stay
  int fds[3];
  int cgroup_procs;
  int keep_fd;           // stays open across the exec (the reaper's report pipe)
  rlimit nofile;         // RLIMIT_NOFILE to execute with; soft 0: as is
  bool as_user;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  std::size_t ngroups;
  // Written by the child.
  int error;             // errno of the step that failed, 0 when it executed
  const char* step;      // which step
  int group_error;       // joining the cgroup failed (the worker goes on without)
};

// The kernel's sigaction, for rt_sigaction.
struct kernel_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

[[noreturn]] __attribute__((no_sanitize("address"))) void fail(start_args* a, const char* step) {
  a->error = errno;
  a->step = step;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// Runs in the child, on its own stack, in the daemon's memory: raw system
// calls only, nothing that takes a lock or touches the allocator.
__attribute__((no_sanitize("address"))) int child_main(void* p) {
  auto* a = static_cast<start_args*>(p);
  // Nothing the daemon handles or ignores stays so; then no signal blocked
  // (the daemon blocked them all around the clone).
  kernel_sigaction dfl{SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig < 65; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
  unsigned long none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, 8);
  // First the group, so that even the first fork of the process is in it;
  // while still root, which the group's directory needs.
  // (Made by clone3 into its group already, the child need not move.)
  if (a->cgroup_procs >= 0 && syscall(SYS_write, a->cgroup_procs, "0", 1) != 1) a->group_error = errno;
  if (syscall(SYS_setsid) < 0) fail(a, "setsid");
  if (a->nofile.rlim_cur && syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &a->nofile, nullptr) != 0)
    fail(a, "descriptor limit");
  if (a->keep_fd >= 0 && syscall(SYS_fcntl, a->keep_fd, F_SETFD, 0) != 0) fail(a, "report pipe");
  for (int i = 0; i < 3; ++i)
    if (syscall(SYS_dup3, a->fds[i], i, 0) < 0) fail(a, "dup");
  if (a->as_user) {
    if (syscall(SYS_setgroups, a->ngroups, a->groups) != 0) fail(a, "setgroups");
    if (syscall(SYS_setresgid, a->gid, a->gid, a->gid) != 0) fail(a, "setgid");
    if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) != 0) fail(a, "setuid");
  }
  // After the ids: the maker must be able to enter the directory and run
  // the file, not just root.
  if (a->dir && syscall(SYS_chdir, a->dir) != 0) fail(a, "dir");
  syscall(SYS_execve, a->path, a->argv, a->envp);
  fail(a, "exec");
}

// The child's stack: made once per thread, with a guard page below it.
// CLONE_VFORK keeps the daemon's thread waiting until the child executes
// or exits, so one stack serves every start of that thread.
char* child_stack_top() {
  constexpr std::size_t size = 128 << 10, guard = 4096;  // clone3_run's size too
  thread_local char* top = nullptr;
  if (top) return top;
  void* m = mmap(nullptr, size + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  mprotect(m, guard, PROT_NONE);
  top = static_cast<char*>(m) + size + guard;
  return top;
}

#if defined(__x86_64__)
// The layout of clone3's argument (linux/sched.h, which clashes with glibc's
// <sched.h>), up to the cgroup field (Linux 5.7).
struct clone3_args {
  std::uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
      set_tid, set_tid_size, cgroup;
};
constexpr std::uint64_t clone_into_cgroup = 0x200000000ULL;

// clone3 has no glibc wrapper that runs a function on a stack of its own,
// so this is the one: the child starts on `stack` (the kernel puts its
// stack pointer at the top), calls fn(arg) and exits with what it returns.
// The parent gets the pid, or -errno. Why clone3: CLONE_INTO_CGROUP makes
// the process inside its group; moving it there after (a write to
// cgroup.procs) waits for an RCU grace period, milliseconds on a busy host.
__attribute__((noinline)) long clone3_run(clone3_args* ca, int (*fn)(void*), void* arg) {
  long ret;
  register long r12 asm("r12") = reinterpret_cast<long>(fn);
  register long r13 asm("r13") = reinterpret_cast<long>(arg);
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"  // the child: no frame above this one
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov $231, %%eax\n\t"  // exit_group
      "syscall\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "a"(435L /* SYS_clone3 */), "D"(ca), "S"(sizeof *ca), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}
#endif

errc start_errc(int e) {
  switch (e) {
    case ENOENT: case ENOTDIR: return errc::not_found;
    case EACCES: case EPERM: case ENOEXEC: return errc::access;
    case E2BIG: return errc::too_big;
    default: return errc::io;
  }
}

// Why exec(2) of `path` failed, in words. The path was checked to be an
// executable file, so ENOENT means something it names is missing: a
// script's interpreter (the #! line), or a binary's loader. The daemon
// reads the #! line only of a file anyone may read: the words must not
// show a caller what it may not read itself.
std::string exec_words(const std::string& path, int e) {
  std::string words = strerror(e);
  if (e != ENOENT) return words;
  char head[256] = {};
  // A caller may have put something else there since: only a regular
  // file is read, and the open cannot wait (a FIFO) or take a terminal.
  struct stat st {};
  int fd = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)
               ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
               : -1;
  if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IROTH))) {
    ::close(fd);
    fd = -1;
  }
  ssize_t n = fd < 0 ? -1 : ::pread(fd, head, sizeof head - 1, 0);
  if (fd >= 0) ::close(fd);
  if (n > 2 && head[0] == '#' && head[1] == '!') {
    std::string line(head + 2, static_cast<std::size_t>(n) - 2);
    line = line.substr(0, line.find('\n'));
    auto b = line.find_first_not_of(" \t");
    auto interp =
        b == std::string::npos ? std::string() : line.substr(b, line.find_first_of(" \t", b) - b);
    return "its interpreter " + (interp.empty() ? std::string("(none on its #! line)") : interp) +
           ": " + words;
  }
  return words +
         " (the file is there: what it needs to run is not, such as its #! interpreter or its "
         "loader)";
}

// The reaper's first record: the worker's process started, or why not.
// Bounded: the reaper has executed and its start is a posix_spawn away.
// The daemon's SIGCHLD handler (strays.cpp) interrupts the wait whenever
// another worker ends; that is no answer, so the wait goes on to its end.
result<reaper::record> first_report(int fd) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  reaper::record rec{};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, std::max<int>(0, static_cast<int>(left.count())));
    if (n < 0 && errno == EINTR && left.count() > 0) continue;
    if (n != 1) break;
    ssize_t r;
    do r = read(fd, &rec, sizeof rec);
    while (r < 0 && errno == EINTR);
    if (r == sizeof rec) return rec;
    break;
  }
  return make_error(errc::io, "circuit-reaper said nothing");
}

result<started> start_direct(const start_request& r, int report_w);

}  // namespace

result<started> start_process(const start_request& r) {
  if (!r.reaper) return start_direct(r, -1);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return make_error(errc::io, std::string("spawn: pipe: ") + strerror(errno));
  // Above 2, so that the stdio moved onto 0, 1 and 2 never lands on it.
  int w = fcntl(report[1], F_DUPFD_CLOEXEC, 3);
  ::close(report[1]);
  auto st = start_direct(r, w);
  ::close(w);
  if (!st) {
    ::close(report[0]);
    return st;
  }
  auto rec = first_report(report[0]);
  if (rec && rec->what == reaper::kind::started) {
    st->child = st->pid;
    st->pid = rec->a;
    st->report_fd = report[0];
    return st;
  }
  // It could not start the path: it exits at once; reap it.
  ::close(report[0]);
  kill(st->pid, SIGKILL);  // only if it said nothing: then it must not linger
  siginfo_t info{};
  waitid(static_cast<idtype_t>(3) /* P_PIDFD */, st->pidfd, &info, WEXITED);
  ::close(st->pidfd);
  if (!rec) return make_error(errc::io, "spawn " + r.s->path + ": " + rec.err().message);
  return make_error(start_errc(rec->a),
                    "spawn " + r.s->path + ": " + exec_words(r.s->path, rec->a));
}

namespace {

// Starts r.reaper (with report_w kept open for it) or the spec's path.
result<started> start_direct(const start_request& r, int report_w) {
  const spec& s = *r.s;
  std::string fd_text = std::to_string(report_w);
  std::vector<char*> argv;
  if (r.reaper) argv = {const_cast<char*>(r.reaper), fd_text.data()};
  argv.push_back(const_cast<char*>(s.path.c_str()));
  for (auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (s.env) {
    for (auto& e : *s.env) envp.push_back(const_cast<char*>(e.c_str()));
  } else {
    for (char** e = environ; *e; ++e) envp.push_back(*e);
  }
  if (r.env_extra) {
    // The daemon's variables win over the same names from the spec.
    std::erase_if(envp, [&](const char* e) {
      std::string_view v(e);
      auto name = v.substr(0, v.find('=') + 1);
      for (auto& x : *r.env_extra)
        if (std::string_view(x).substr(0, x.find('=') + 1) == name) return true;
      return false;
    });
    for (auto& x : *r.env_extra) envp.push_back(const_cast<char*>(x.c_str()));
  }
  envp.push_back(nullptr);
  start_args a{};
  a.path = r.reaper ? r.reaper : s.path.c_str();
  a.keep_fd = report_w;
  a.nofile.rlim_cur = static_cast<rlim_t>(r.nofile_soft);
  a.nofile.rlim_max = static_cast<rlim_t>(r.nofile_hard);
  a.argv = argv.data();
  a.envp = envp.data();
  a.dir = s.dir.empty() ? nullptr : s.dir.c_str();
  for (int i = 0; i < 3; ++i) a.fds[i] = r.fds[i];
  a.cgroup_procs = r.cgroup_procs;
  if (r.as) {
    a.as_user = true;
    a.uid = r.as->uid;
    a.gid = r.as->gid;
    a.groups = r.as->groups.data();
    a.ngroups = r.as->groups.size();
  }

  char* stack = child_stack_top();
  if (!stack) return make_error(errc::io, "spawn " + s.path + ": no memory for a stack");
  // No signal handler of the daemon may run in the child (it would run on
  // the daemon's memory): all blocked until the child has reset them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid = -1;
  int clone_errno = 0;
  bool in_group = false;
#if defined(__x86_64__)
  if (r.cgroup_dir >= 0) {
    constexpr std::size_t size = 128 << 10;
    clone3_args ca{};
    ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | clone_into_cgroup;
    ca.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    ca.exit_signal = SIGCHLD;
    ca.stack = reinterpret_cast<std::uint64_t>(stack - size);
    ca.stack_size = size;
    ca.cgroup = static_cast<std::uint64_t>(r.cgroup_dir);
    a.cgroup_procs = -1;
    long got = clone3_run(&ca, child_main, &a);
    if (got >= 0) {
      pid = static_cast<pid_t>(got);
      in_group = true;
    } else {
      a.cgroup_procs = r.cgroup_procs;  // an older kernel: clone, then move
    }
  }
#endif
  if (pid < 0) {
    pid = clone(child_main, stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
    clone_errno = errno;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0)
    return make_error(start_errc(clone_errno), "spawn " + s.path + ": " + strerror(clone_errno));
  if (a.step) {
    // The child exited without executing: reap it, say which step failed.
    siginfo_t info{};
    waitid(static_cast<idtype_t>(3) /* P_PIDFD */, pidfd, &info, WEXITED);
    ::close(pidfd);
    std::string what = std::strcmp(a.step, "exec") == 0 ? "" : std::string(a.step) + " ";
    if (a.dir && std::strcmp(a.step, "dir") == 0) what = "dir " + s.dir + ": ";
    else if (r.reaper && std::strcmp(a.step, "exec") == 0) what = std::string(r.reaper) + ": ";
    else if (!what.empty()) what += ": ";
    std::string why =
        std::strcmp(a.step, "exec") == 0 ? exec_words(s.path, a.error) : strerror(a.error);
    return make_error(start_errc(a.error), "spawn " + s.path + ": " + what + why);
  }
  return started{pid, pid, pidfd, -1, in_group || (a.cgroup_procs >= 0 && a.group_error == 0)};
}

}  // namespace

}  // namespace circuit
