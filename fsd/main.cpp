// circuitd — serves this host's part of the circuit namespace and mounts
// the whole of it with FUSE. One Asio loop owns all state (DESIGN.md §5).
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <functional>

#include "circuit/cluster/key.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/elements/reaper.hpp"
#include "circuit/elements/tree.hpp"
#include "circuit/wire/spin.hpp"
#include "cluster_face.hpp"
#include "dial.hpp"
#include "flags.hpp"
#include "fuse_face.hpp"
#include "keygen.hpp"
#include "log.hpp"
#include "loop_clock.hpp"
#include "socket_face.hpp"
#include "uv_driver.hpp"

using namespace circuit;

namespace {

bool served = false;  // the mount was up: the stop logs its op counts

// A program installed beside circuitd (circuit-reaper), by absolute path:
// a worker starts it after moving to its spec's directory.
std::string beside_self(const char* name) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  std::string dir(self, static_cast<std::size_t>(n));
  return dir.substr(0, dir.rfind('/') + 1) + name;
}

// Messages are strings of up to msize bytes, made and freed at the rate
// they flow. With glibc's defaults the heap's top is given back to the
// kernel and taken again over and over on a stream of 64 KiB messages
// (brk, then a page fault per page: a tenth of the daemon's time,
// measured with perf in bench/cluster_bench). Up to 32 MiB of freed heap
// is kept instead, and blocks below 4 MiB (every 9P frame, a link's batch
// of them) come from the heap rather than mmap(2).
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

fsd::cluster_options cluster_options_of(const fsd::flags& fl, const cluster::cluster_key& key) {
  auto secs = [](double s) { return std::chrono::duration_cast<circuit::clock::duration>(std::chrono::duration<double>(s)); };
  fsd::cluster_options co;
  co.name = fl.name;
  co.listen = fl.listen;
  co.join = fl.join;
  co.key = key;
  co.timings.probe_interval = secs(fl.probe_interval);
  co.timings.probe_timeout = secs(fl.probe_timeout);
  co.timings.gossip_interval = secs(fl.gossip_interval);
  co.timings.suspicion_floor = secs(fl.suspicion_floor);
  co.timings.forget_after = secs(fl.forget_after);
  co.link_timeout = std::chrono::milliseconds(static_cast<long>(fl.link_timeout * 1000 + 0.5));
  co.remote_deadline = std::chrono::milliseconds(fl.remote_deadline_ms);
  return co;
}

int serve(int argc, char** argv) {
  fsd::flags fl;
  std::string why;
  if (!fsd::parse_flags(argc, argv, fl, why)) {
    fprintf(stderr, "circuitd: %s\n", why.c_str());
    return 2;
  }
  if (fl.help) {
    fputs(fsd::usage().c_str(), stdout);
    return 0;
  }
  if (fl.version) {
    puts("circuitd 0.1");
    return 0;
  }
  keep_freed_memory();
  // Workers run as their makers; only root can start a process as another
  // user, so a daemon that is not root would run a group member's worker
  // as its own user. Refuse before anything is mounted.
  if (fl.allow_group && geteuid() != 0) {
    fprintf(stderr,
            "circuitd: --allow-group %s needs circuitd to run as root: a daemon that is not root "
            "cannot run workers as their makers\n",
            fl.allow_group_name.c_str());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  // Descriptors inherited from whoever started us must not leak into the
  // workers we start.
  for (int fd = 3; fd < 1024; ++fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  fsd::set_log_name(fl.name);

  boost::asio::io_context io(1);
  fsd::uv_driver uv(io);
  fsd::loop_clock loop_time(io);
  config cfg;
  cfg.clock = &loop_time;
  cfg.uv = uv.loop();
  cfg.uv_kick = [&uv] { uv.kick(); };
  cfg.grace = fl.grace;
  cfg.keep_workers = fl.keep_workers;
  cfg.cgroups = fl.cgroups;
  cfg.reaper = beside_self(reaper::program);
  // Each worker, connection and mount takes descriptors: the daemon may use
  // as many as its hard limit allows (a soft limit of 1024, systemd's, is
  // some 170 workers). Its workers start with the limits it was given.
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    cfg.worker_nofile_soft = lim.rlim_cur;
    cfg.worker_nofile_hard = lim.rlim_max;
    rlimit raised{lim.rlim_max, lim.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
  cfg.host = fl.name;
  cfg.max_message = fl.max_message;
  cfg.max_memory = fl.max_memory;
  cfg.max_fids = fl.max_fids;
  cfg.max_elements = fl.max_elements;
  cfg.allow_group = fl.allow_group;
  cfg.log = [](std::string_view line) { fsd::log_line(line); };
  cfg.log_routine = fl.debug;
  cfg.socket = fl.socket;
  cfg.store = fl.store;
  cfg.store_bound = fl.store_bound;
  cfg.store_max_binary = fl.store_max_binary;
  ns space(std::move(cfg), make_tree);
  fsd::fuse_face face(io, space, fl.mount, fl.debug, fl.kernel_checks);
  fsd::socket_face sock(io, space, fl.socket, fl.max_connections);
  std::unique_ptr<fsd::cluster_face> members;
  if (!fl.listen.empty()) {
    auto key = cluster::load_key(fl.key);
    if (!key) {
      fprintf(stderr, "circuitd: --key %s: %s\n", fl.key.c_str(), key.err().message.c_str());
      return 2;
    }
    members = std::make_unique<fsd::cluster_face>(io, space, loop_time, cluster_options_of(fl, *key));
  }

  // The stop is asynchronous, and the loop serves the mount throughout: a
  // worker may be blocked on the mount itself (cat .../recv), and it can
  // only end once its request is answered. First every worker's processes
  // end (TERM, KILL after the grace period, reaped as usual: a parked wait
  // gets the exit); then the namespace stops (what is still parked
  // completes) and the files opened are given time to be read and closed
  // (the wait just answered); then the invalidator ends while requests are
  // still served (a notification may wait for a directory lock held by a
  // request of the kernel); last the mount goes. Each phase has a
  // backstop, so the whole stop takes at most the grace period and 1 s.
  using clock = std::chrono::steady_clock;
  bool stopping = false, finishing = false, done = false;
  clock::time_point deadline;
  boost::asio::steady_timer backstop(io), drain(io);
  auto end = [&] {
    if (done) return;
    done = true;
    backstop.cancel();
    drain.cancel();
    face.stop();
    sock.stop();
    if (members) members->stop();
    uv.stop();
    io.stop();
  };
  auto unmount = [&] {
    backstop.expires_at(deadline);
    backstop.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      fsd::log_line("stopping: the invalidator did not end in time; unmounting anyway");
      end();
    });
    face.finish([&] { end(); });
  };
  // Workers the namespace's stop killed are reaped on the loop meanwhile.
  std::function<void()> await_closes = [&] {
    if ((space.open_files() == 0 && live_workers(space) == 0) ||
        clock::now() >= deadline - std::chrono::milliseconds(200))
      return unmount();
    drain.expires_after(std::chrono::milliseconds(5));
    drain.async_wait([&](boost::system::error_code ec) {
      if (!ec) await_closes();
    });
  };
  auto finish = [&] {
    if (finishing) return;
    finishing = true;
    backstop.cancel();
    space.stop();  // parked requests complete; what is still running is killed
    uv.run_now();  // stdin writes cancelled by the stop are answered
    await_closes();
  };
  auto shutdown = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    fsd::log_line(std::string("stopping: ") + why);
    if (members) members->leave([] { fsd::log_line("cluster: left"); });
    deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                  std::chrono::duration<double>(space.cfg().grace + 0.9));
    backstop.expires_at(deadline - std::chrono::milliseconds(500));
    backstop.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      fsd::log_line("stopping: some workers did not end in time");
      finish();
    });
    stop_workers(space, [&] { boost::asio::post(io, finish); });
  };
  // The writer of "stop" still has ctl open; let its close be answered
  // before the mount goes.
  boost::asio::steady_timer stop_timer(io);
  space.cfg().stop = [&] {
    stop_timer.expires_after(std::chrono::milliseconds(100));
    stop_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) shutdown("ctl stop");
    });
  };
  face.on_unmounted = [&] { shutdown("unmounted"); };
  space.cfg().mount = [&](const std::string& socket, const std::string& name) -> result<void> {
    auto r = fsd::dial(io, socket, name, std::chrono::milliseconds(fl.remote_deadline_ms),
                       space.memory());
    if (!r) return r.err();
    return add_mount(space, name, *r);
  };
  space.cfg().dial = [&](const std::string& socket, const std::string& via, const std::string& name,
                         std::vector<std::string> tops,
                         std::function<void(result<config::remotes>)> done) {
    fsd::dial_async(io, socket, via, name, std::move(tops),
                    std::chrono::milliseconds(fl.remote_deadline_ms), space.memory(),
                    std::move(done));
  };
  space.cfg().entry_changed = [&](std::uint64_t parent, const std::string& name) {
    face.invalidate(parent, name);
  };
  space.cfg().entries_below_changed = [&](std::uint64_t dir) { face.invalidate_below(dir); };

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (!ec) shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
  });

  if (!fl.socket.empty()) {
    if (auto r = sock.start(); !r) {
      fprintf(stderr, "circuitd: %s\n", r.err().message.c_str());
      return 1;
    }
  }
  if (auto r = face.start(); !r) {
    fprintf(stderr, "circuitd: %s\n", r.err().message.c_str());
    return 1;
  }
  if (members) {
    if (auto r = members->start(); !r) {
      fprintf(stderr, "circuitd: %s\n", r.err().message.c_str());
      return 1;
    }
  }
  std::string users = "root and uid " + std::to_string(geteuid());
  if (fl.allow_group) users += " and group " + fl.allow_group_name;
  fsd::log_line("serving host " + fl.name + " at " + fl.mount +
                (fl.socket.empty() ? "" : " and on " + fl.socket) + " to " + users);
  served = true;
  // io.run(), polling while busy (spin.hpp).
  wire::spinner spin{std::chrono::microseconds(fl.spin_us)};
  while (spin.run_one(io)) {
  }
  return 0;
}

}  // namespace

// Every request is answered exactly once: once the namespace and the faces
// are gone, every op made must have completed. The integration harness
// checks this line at every daemon's stop.
int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "keygen") return fsd::keygen(argc, argv);
  int rc = serve(argc, argv);
  if (served) {
    const op_counts& n = op_tally();
    fsd::log_line("ops: issued " + std::to_string(n.issued) + " completed " + std::to_string(n.completed));
  }
  return rc;
}
