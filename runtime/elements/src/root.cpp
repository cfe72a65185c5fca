#include "root.hpp"
#include "mount_point.hpp"

#include "host.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/core/remote.hpp"

namespace circuit {
namespace {

// A reader of `events`: first the present members as "join NAME" lines,
// then every event from the moment of the open, forever. Lines wait in
// `pending_` until read, so a short read never loses a line; a read gets
// whole lines only, as many as fit (a line longer than the read comes in
// pieces, the only case where a read ends inside a line).
class events_handle final : public handle {
 public:
  events_handle(event_log& log, std::string present)
      : log_(log), pending_(std::move(present)), cursor_(log.end()) {}
  ~events_handle() override {
    if (auto p = parked_.lock()) p->cancel(make_error(errc::interrupted, "events: closed"));
  }

  // The read parks in the log through an inner op: the log's lines go to
  // `pending_` first, so a short read keeps the rest.
  void read(std::uint64_t, std::size_t size, op_ptr<std::string> done) override {
    if (!pending_.empty()) return done->complete(take(size));
    auto inner = make_inner_op<std::string>(
        done, [this, size](const op_ptr<std::string>& done, result<std::string> r) {
          if (!r) return done->complete(r.err());
          pending_ = std::move(*r);
          done->complete(take(size));
        });
    parked_ = inner;
    log_.read(&cursor_, 64 << 10, std::move(inner));
  }

  bool readable_now() const override { return !pending_.empty() || log_.readable(cursor_); }
  void wake_when_readable(std::function<void()> wake) override {
    wake_ = make_wake(std::move(wake));
    log_.watch(wake_);
  }

 private:
  std::string take(std::size_t size) {
    std::size_t n = pending_.size();
    if (n > size) {
      std::size_t nl = size ? pending_.rfind('\n', size - 1) : std::string::npos;
      n = nl == std::string::npos ? size : nl + 1;
    }
    std::string out = pending_.substr(0, n);
    pending_.erase(0, n);
    return out;
  }

  event_log& log_;
  std::string pending_;
  std::uint64_t cursor_;
  std::weak_ptr<op<std::string>> parked_;  // the log holds it
  wake_ptr wake_;
};

const file_entry root_files[] = {
    {.name = "members",
     .help = "one line per live host: name id address state (read)",
     .read = [](dir& d, const caller&) { return static_cast<root&>(d).members(); },
     .mode = 0440},
    {.name = "sysname",
     .help = "this host's name: the circuitd --name of the daemon you reach (read)",
     .read = [](dir& d, const caller&) { return d.space().cfg().host + "\n"; },
     .mode = 0444},
    {.name = "events",
     .help = "\"join NAME\", \"leave NAME\", \"new PATH\", \"gone PATH\": blocks, never ends (read)",
     .open =
         [](dir& d, const open_args&, op_ptr<handle_ptr> done) {
           std::string present;
           for (dir* h : d.children()) present += "join " + h->name() + "\n";
           done->complete(handle_ptr(std::make_unique<events_handle>(d.space().events(), std::move(present))));
         },
     .readable = true,
     .mode = 0440},
};

}  // namespace

root::root(ns& space) : dir(space, nullptr, "") {}
root::~root() = default;

result<void> root::add_mount(const std::string& name, std::shared_ptr<remote> r) {
  if (hosts_.count(name) || mounts_.count(name))
    return make_error(errc::exists, "mount: " + name + " is taken in /");
  mounts_[name] = std::make_shared<mount_point>(space(), this, name, std::move(r));
  space().log("mount: /" + name + " is served by " + mounts_[name]->served_by()->name());
  space().entry_changed(*this, name);
  return {};
}

result<void> root::remove_mount(const std::string& name) {
  auto it = mounts_.find(name);
  if (it == mounts_.end()) return make_error(errc::not_found, "unmount: " + name + ": no such mount");
  mounts_.erase(it);
  space().log("unmount: /" + name);
  space().entry_changed(*this, name);
  return {};
}

host& root::add_host(const std::string& name) {
  auto h = std::make_shared<host>(space(), this, name);
  host& ref = *h;
  hosts_[name] = std::move(h);
  space().events().append("join " + name);
  return ref;
}

std::span<const file_entry> root::files() const { return root_files; }

std::string_view root::about() const {
  return "circuit: a cluster of hosts as one file tree.\n"
         "\n"
         "Each live host has a directory here, named after its circuitd --name.\n"
         "In it, channels/ holds channels (mkdir makes one, echo sends, cat\n"
         "receives) and workers/ holds processes (mkdir makes one, a JSON spec\n"
         "starts it). Every directory has help (what its files do) and error\n"
         "(why your last call in it failed). See circuit(4) and circuitd(8).\n"
         "\n"
         "Reading a file here is an action: a read of recv takes a message, of\n"
         "stdout takes output, and may wait forever. Tools that read every file\n"
         "(grep -r, find -exec cat, file indexers, backups) consume messages and\n"
         "can block: keep them out of this mount (PRUNEPATHS in updatedb.conf,\n"
         "your backup's excludes).";
}

std::string_view root::example() const {
  return "  cat members\n"
         "  mkdir */channels/jobs        # a channel on each host\n"
         "  cat events &                 # watch hosts and elements come and go";
}

dir* root::child(std::string_view name) {
  if (auto it = hosts_.find(name); it != hosts_.end()) return it->second.get();
  auto m = mounts_.find(name);
  return m == mounts_.end() ? nullptr : m->second.get();
}

std::vector<dir*> root::children() {
  std::vector<dir*> out;
  for (auto& [name, h] : hosts_) out.push_back(h.get());
  for (auto& [name, m] : mounts_) out.push_back(m.get());
  return out;
}

std::string root::members() const {
  if (space().cfg().members) return space().cfg().members();
  std::string t;
  for (auto& [name, h] : hosts_)
    t += name + " " + h->member_id() + " " + space().cfg().address + " alive\n";
  return t;
}

}  // namespace circuit
