#include "host.hpp"

#include <unistd.h>

#include <fstream>

#include "bin.hpp"
#include "channels.hpp"
#include "circuit/core/ctl.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/core/stat_table.hpp"
#include "circuit/elements/tree.hpp"
#include "workers.hpp"

namespace circuit {
namespace {

long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

const verb host_verbs[] = {
    {"stop", 0, "stop", "unmount and stop this circuitd",
     [](dir& d, const caller&, std::span<const std::string_view>) -> result<void> {
       d.space().log("ctl: stop");
       if (d.space().cfg().stop) d.space().cfg().stop();
       return {};
     }},
    {"mount", 2, "mount SOCKET NAME",
     "show at /NAME the tree of the 9P2000.L server at the Unix socket SOCKET (another circuitd)",
     [](dir& d, const caller&, std::span<const std::string_view> args) -> result<void> {
       if (auto ok = check_name("mount", args[1]); !ok) return ok;
       if (!d.space().cfg().mount) return make_error(errc::not_supported, "mount: this daemon makes no mounts");
       return d.space().cfg().mount(std::string(args[0]), std::string(args[1]));
     }},
    {"unmount", 1, "unmount NAME", "take the mount NAME away (what is open in it fails from then on)",
     [](dir& d, const caller&, std::span<const std::string_view> args) -> result<void> {
       return remove_mount(d.space(), std::string(args[0]));
     }},
    {"max-message", 1, "max-message BYTES", "largest channel message accepted from now on",
     [](dir& d, const caller&, std::span<const std::string_view> args) -> result<void> {
       auto n = parse_count("max-message", args[0], std::uint64_t{1} << 32);
       if (!n) return n.err();
       d.space().cfg().max_message = *n;
       return {};
     }},
};

const file_entry host_files[] = {
    {.name = "stat",
     .help = "one JSON line: the stat fields below (read)",
     .read = [](dir& d, const caller&) { return static_cast<host&>(d).stat(); },
     .mode = 0440},
    {.name = "ctl",
     .help = "commands, one per line (write); see below",
     .write = [](dir& d, const caller& who, std::string_view text) {
       return run_ctl(host_verbs, d, who, text);
     },
     .mode = 0200},
};

using json = boost::json::value;

const stat_field<host> host_stat[] = {
    {"name", "this host's name (circuitd --name)", [](const host& h) { return json(h.name()); }},
    {"id", "this daemon's random id, as in members", [](const host& h) { return json(h.member_id()); }},
    {"pid", "the daemon's process id", [](const host&) { return json(getpid()); }},
    {"started", "start time, seconds since the epoch",
     [](const host& h) {
       using namespace std::chrono;
       return json(duration_cast<seconds>(h.started().time_since_epoch()).count());
     }},
    {"uptime", "seconds since the start",
     [](const host& h) {
       return json(std::chrono::duration<double>(h.space().clock().wall() - h.started()).count());
     }},
    {"channels", "channels on this host", [](const host& h) { return json(h.channel_count()); }},
    {"workers", "workers on this host, whatever their state", [](const host& h) { return json(h.worker_count()); }},
    {"rss", "the daemon's resident memory, bytes", [](const host&) { return json(rss_bytes()); }},
    {"max_message", "the largest channel message accepted, bytes",
     [](const host& h) { return json(h.space().cfg().max_message); }},
    {"sessions", "clients served now: the mount is one, each socket connection one",
     [](const host& h) { return json(h.space().sessions()); }},
    {"fids", "fids those sessions hold: the mount's for each inode the kernel keeps, and each open",
     [](const host& h) { return json(h.space().fids()); }},
    {"requests", "requests in flight: parked (a receive waiting) or queued behind one",
     [](const host& h) { return json(h.space().requests()); }},
};

}  // namespace

host::host(ns& space, dir* parent, std::string name) : dir(space, parent, std::move(name)) {
  std::random_device rd;
  char buf[17];
  snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  id_text_ = buf;
  started_ = space.clock().wall();
  channels_ = std::make_shared<channels>(space, this);
  workers_ = std::make_shared<workers>(space, this);
  bin_ = std::make_shared<bin>(space, this);
}

host::~host() = default;

std::span<const file_entry> host::files() const { return host_files; }

std::string_view host::about() const {
  return "A host of the cluster: one circuitd and what it serves.\n"
         "\n"
         "channels/ holds this host's channels (see channels/help), workers/ its\n"
         "processes (see workers/help), bin/ its binaries, named by their sha256\n"
         "(see bin/help).";
}

std::span<const verb> host::verbs() const { return host_verbs; }

std::string_view host::example() const {
  return "  cat stat\n"
         "  echo 'max-message 1048576' > ctl\n"
         "  mkdir channels/jobs";
}

dir* host::child(std::string_view name) {
  if (name == "channels") return channels_.get();
  if (name == "workers") return workers_.get();
  if (name == "bin") return bin_.get();
  return nullptr;
}

std::vector<dir*> host::children() { return {channels_.get(), workers_.get(), bin_.get()}; }

std::string host::stat() const { return stat_json<host>(host_stat, *this); }

std::vector<stat_doc> host::stat_fields() const { return stat_docs<host>(host_stat); }

std::size_t host::channel_count() const { return channels_->size(); }
std::size_t host::worker_count() const { return workers_->size(); }

}  // namespace circuit
