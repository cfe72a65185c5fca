#include "flags.hpp"

#include <grp.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <type_traits>

#include "circuit/core/ctl.hpp"

namespace circuit::fsd {
namespace {

// A group by name or number; a number need not name an existing group.
bool set_group(flags& f, const std::string& v, std::string& why) {
  auto n = parse_count("--allow-group", v, 0xfffffffe);
  if (n) {
    f.allow_group = static_cast<gid_t>(*n);
  } else if (const group* g = getgrnam(v.c_str())) {
    f.allow_group = g->gr_gid;
  } else {
    why = "--allow-group: no group named \"" + v + "\" (give a group name or number)";
    return false;
  }
  f.allow_group_name = v;
  return true;
}

// A number of seconds from `lo` to `hi` into `out`.
bool set_seconds(const char* name, double lo, double hi, const std::string& v, double& out, std::string& why) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !(d >= lo) || d > hi) {
    why = std::string(name) + " needs a number of seconds from " + std::to_string(lo).substr(0, 5) + " to " +
          std::to_string(static_cast<long>(hi)) + ", not \"" + v + "\"";
    return false;
  }
  out = d;
  return true;
}

// A flag that takes seconds into a field of `flags`.
template <double flags::*field>
bool seconds(const char* name, double lo, double hi, flags& f, const std::string& v, std::string& why) {
  return set_seconds(name, lo, hi, v, f.*field, why);
}

// A flag that takes a count (of bytes, of seconds, of fids) from 0 to
// `max` into a field of `flags`.
template <auto field, std::uint64_t max = std::uint64_t{1} << 50>
bool count(const char* name, flags& f, const std::string& v, std::string& why) {
  auto n = parse_count(name, v, max);
  if (!n) why = n.err().message;
  if (n) f.*field = static_cast<std::remove_reference_t<decltype(f.*field)>>(*n);
  return bool(n);
}

struct flag_row {
  const char* name;
  const char* arg;  // null: takes no argument
  const char* help;
  std::function<bool(flags&, const std::string&, std::string&)> set;
};

const flag_row rows[] = {
    {"--name", "NAME", "this host's name in the cluster (default: the hostname)",
     [](flags& f, const std::string& v, std::string& why) {
       auto ok = check_name("--name", v);
       if (!ok) why = ok.err().message;
       f.name = v;
       return bool(ok);
     }},
    {"--mount", "DIR",
     "where to mount the namespace (default: /circuit); must exist; or /dev/fd/N, a FUSE mount "
     "made for us",
     [](flags& f, const std::string& v, std::string&) {
       f.mount = v;
       return true;
     }},
    {"--socket", "PATH",
     "serve 9P2000.L on the Unix socket PATH (default: /run/circuit/NAME.sock; none: no socket)",
     [](flags& f, const std::string& v, std::string& why) {
       if (v.empty()) {
         why = "--socket needs a PATH (or none)";
         return false;
       }
       f.socket = v;
       return true;
     }},
    {"--store", "DIR",
     "keep bin/'s binaries in DIR, made 0711 if missing (default: /var/lib/circuit/NAME/bin; none: "
     "no store)",
     [](flags& f, const std::string& v, std::string& why) {
       if (v.empty() || (v != "none" && v[0] != '/')) {
         why = "--store needs an absolute path (or none), not \"" + v + "\"";
         return false;
       }
       f.store = v;
       return true;
     }},
    {"--store-bound", "BYTES",
     "past this many bytes of binaries, bin/ removes those nobody uses, least recently used first "
     "(default: 4294967296, 4 GiB)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::store_bound>("--store-bound", f, v, why);
     }},
    {"--store-max-binary", "BYTES", "the largest binary bin/ takes (default: 1073741824, 1 GiB)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::store_max_binary>("--store-max-binary", f, v, why);
     }},
    {"--remote-deadline", "SECONDS",
     "how long a mount's server may take to answer a walk, stat or listing before it fails "
     "with ETIMEDOUT (default: 5)",
     [](flags& f, const std::string& v, std::string& why) {
       double d = 0;
       if (!set_seconds("--remote-deadline", 0.001, 3600, v, d, why)) return false;
       f.remote_deadline_ms = static_cast<long>(d * 1000 + 0.5);
       return true;
     }},
    {"--key", "FILE", "the cluster key (circuitd keygen FILE makes one); peers must hold the same",
     [](flags& f, const std::string& v, std::string&) {
       f.key = v;
       return true;
     }},
    {"--listen", "HOST:PORT",
     "join a cluster: peer links (TLS) and gossip (UDP) on this address; needs --key",
     [](flags& f, const std::string& v, std::string&) {
       f.listen = v;
       return true;
     }},
    {"--join", "HOST:PORT",
     "a member to join through (repeat for more); tried again until one answers",
     [](flags& f, const std::string& v, std::string&) {
       f.join.push_back(v);
       return true;
     }},
    {"--link-timeout", "SECONDS",
     "how long a request waits for a link to a live member before EHOSTUNREACH, and a link may "
     "go unacknowledged before it fails (default: 3)",
     [](flags& f, const std::string& v, std::string& why) {
       return seconds<&flags::link_timeout>("--link-timeout", 0.01, 3600, f, v, why);
     }},
    {"--forget-after", "SECONDS", "how long a member declared down stays listed (default: 60)",
     [](flags& f, const std::string& v, std::string& why) {
       return seconds<&flags::forget_after>("--forget-after", 0, 86400, f, v, why);
     }},
    {"--probe-interval", "SECONDS", "how often this member probes another (default: 0.5)",
     [](flags& f, const std::string& v, std::string& why) {
       return seconds<&flags::probe_interval>("--probe-interval", 0.01, 60, f, v, why);
     }},
    {"--probe-timeout", "SECONDS",
     "how long a probe waits for its ack before indirect probes (default: 0.2)",
     [](flags& f, const std::string& v, std::string& why) {
       return seconds<&flags::probe_timeout>("--probe-timeout", 0.001, 60, f, v, why);
     }},
    {"--suspicion-floor", "SECONDS",
     "a suspected member is declared down no sooner than this (default: 1)",
     [](flags& f, const std::string& v, std::string& why) {
       return seconds<&flags::suspicion_floor>("--suspicion-floor", 0, 600, f, v, why);
     }},
    {"--gossip-interval", "SECONDS", "how often updates are gossiped (default: 0.1)",
     [](flags& f, const std::string& v, std::string& why) {
       return seconds<&flags::gossip_interval>("--gossip-interval", 0.001, 60, f, v, why);
     }},
    {"--max-message", "BYTES", "largest channel message (default: 67108864, 64 MiB)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::max_message, std::uint64_t{1} << 32>("--max-message", f, v, why);
     }},
    {"--max-memory", "BYTES",
     "message and stdin bytes the daemon holds at most (default: a quarter of the machine's "
     "memory)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::max_memory>("--max-memory", f, v, why);
     }},
    {"--max-fids", "N",
     "walked files (9P fids) one user other than root may hold at once, over all sessions "
     "(default: 262144)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::max_fids, std::uint64_t{1} << 32>("--max-fids", f, v, why);
     }},
    {"--max-elements", "N",
     "elements (channels, workers, selections) one user other than root may have made here at "
     "once (default: 65536)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::max_elements, std::uint64_t{1} << 32>("--max-elements", f, v, why);
     }},
    {"--max-connections", "N",
     "connections to --socket one user other than root may hold at once (default: 1024)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::max_connections, std::uint64_t{1} << 32>("--max-connections", f, v,
                                                                     why);
     }},
    {"--spin", "MICROSECONDS",
     "while requests come quickly, poll this long for the next before sleeping; 0: never poll "
     "(default: 100)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::spin_us, 1000>("--spin", f, v, why);
     }},
    {"--grace", "SECONDS", "time a stopped worker gets between SIGTERM and SIGKILL (default: 5)",
     [](flags& f, const std::string& v, std::string& why) {
       return count<&flags::grace, 3600>("--grace", f, v, why);
     }},
    {"--allow-group", "GROUP",
     "let the members of GROUP (name or number) use the mount; needs root (default: "
     "root and the daemon's user only)",
     set_group},
    {"--no-kernel-checks", nullptr,
     "mount without default_permissions: circuitd alone checks permissions (for tests)",
     [](flags& f, const std::string&, std::string&) {
       f.kernel_checks = false;
       return true;
     }},
    {"--no-cgroups", nullptr,
     "track workers' processes with a reaper per worker, as where no cgroup can be made (for "
     "tests)",
     [](flags& f, const std::string&, std::string&) {
       f.cgroups = false;
       return true;
     }},
    {"--keep-workers", nullptr, "leave workers running when circuitd stops (default: stop them)",
     [](flags& f, const std::string&, std::string&) { return f.keep_workers = true; }},
    {"--debug", nullptr,
     "log every FUSE request (libfuse's trace) and every EAGAIN of a try-operation",
     [](flags& f, const std::string&, std::string&) { return f.debug = true; }},
    {"--help", nullptr, "print this text and exit",
     [](flags& f, const std::string&, std::string&) { return f.help = true; }},
    {"--version", nullptr, "print the version and exit",
     [](flags& f, const std::string&, std::string&) { return f.version = true; }},
};

}  // namespace

std::size_t default_max_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::size_t{1} << 30;
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4;
}

bool parse_flags(int argc, char** argv, flags& out, std::string& why) {
  char host[256] = "local";
  gethostname(host, sizeof host - 1);
  out.name = host;
  if (!check_name("name", out.name)) out.name = "local";
  out.max_memory = default_max_memory();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], value;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    const flag_row* row = nullptr;
    for (const auto& r : rows)
      if (a == r.name) row = &r;
    if (!row) {
      why = "unknown flag " + std::string(argv[i]) + " (see circuitd --help)";
      return false;
    }
    if (row->arg && eq == std::string::npos) {
      if (i + 1 >= argc) {
        why = std::string(row->name) + " needs " + row->arg;
        return false;
      }
      value = argv[++i];
    }
    if (!row->set(out, value, why)) return false;
  }
  // A local user must not be able to connect and claim to be root: no
  // peer link without the key, on loopback too.
  if (!out.listen.empty() && out.key.empty()) {
    why = "--listen needs --key FILE: peers prove they hold the cluster key. Make one with "
          "`circuitd keygen /etc/circuit/key` and copy it, mode 0600, to every host";
    return false;
  }
  if (!out.join.empty() && out.listen.empty()) {
    why = "--join needs --listen HOST:PORT: the address the other members reach this one at";
    return false;
  }
  if (out.socket.empty()) out.socket = "/run/circuit/" + out.name + ".sock";
  if (out.socket == "none") out.socket.clear();
  if (out.store.empty()) out.store = "/var/lib/circuit/" + out.name + "/bin";
  if (out.store == "none") out.store.clear();
  return true;
}

std::string usage() {
  std::string t =
      "usage: circuitd [flags]\n"
      "       circuitd keygen FILE   writes a new cluster key to FILE\n"
      "\n"
      "circuitd serves this host's part of the circuit namespace and mounts the\n"
      "whole of it with FUSE. It runs in the foreground, logs to stderr, and\n"
      "unmounts cleanly on SIGINT or SIGTERM. See circuitd(8) and circuit(4).\n"
      "\n"
      "flags:\n";
  for (const auto& r : rows) {
    std::string left = std::string(r.name) + (r.arg ? std::string(" ") + r.arg : "");
    t += "  " + left + std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') + r.help + "\n";
  }
  return t;
}

}  // namespace circuit::fsd
