// flags.hpp — circuitd's command line. Every flag is in the table in
// flags.cpp, which also writes --help.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuit::fsd {

struct flags {
  std::string name;                     // --name, default: the hostname
  std::string mount = "/circuit";       // --mount
  std::string socket;                   // --socket; default /run/circuit/NAME.sock, "none": no socket
  std::size_t max_message = 64u << 20;  // --max-message
  std::size_t max_memory = 0;           // --max-memory; parse_flags sets the default
  std::size_t max_fids = std::size_t{1} << 18;  // --max-fids
  std::size_t max_connections = 1024;           // --max-connections
  std::size_t max_elements = std::size_t{1} << 16;  // --max-elements
  std::uint64_t spin_us = 100;          // --spin: microseconds of polling before sleeping (wire::default_spin_window)
  double grace = 5;                     // --grace: seconds from TERM to KILL
  long remote_deadline_ms = 5000;       // --remote-deadline: a mount's server must answer within it
  std::string store;                    // --store; default /var/lib/circuit/NAME/bin, "none": no store
  std::uint64_t store_bound = std::uint64_t{4} << 30;       // --store-bound
  std::uint64_t store_max_binary = std::uint64_t{1} << 30;  // --store-max-binary
  bool keep_workers = false;            // --keep-workers
  std::optional<gid_t> allow_group;     // --allow-group: its members may use the mount
  std::string allow_group_name;         //   as given, for messages
  bool cgroups = true;                  // --no-cgroups: a reaper per worker instead (for tests)
  bool kernel_checks = true;            // --no-kernel-checks turns default_permissions off
  bool debug = false;                   // --debug: libfuse traces every request
  std::string key;                      // --key: the cluster key's file
  std::string listen;                   // --listen HOST:PORT: be a member of a cluster
  std::vector<std::string> join;        // --join HOST:PORT, repeated
  double link_timeout = 3;              // --link-timeout, seconds
  double forget_after = 60;             // --forget-after, seconds
  double probe_interval = 0.5;          // --probe-interval, seconds
  double probe_timeout = 0.2;           // --probe-timeout, seconds
  double gossip_interval = 0.1;         // --gossip-interval, seconds
  double suspicion_floor = 1;           // --suspicion-floor, seconds
  bool help = false;
  bool version = false;
};

// Parses argv; on a bad flag returns false and sets `why`.
bool parse_flags(int argc, char** argv, flags& out, std::string& why);
std::string usage();

// A quarter of the machine's memory: what --max-memory is when not given.
std::size_t default_max_memory();

}  // namespace circuit::fsd
