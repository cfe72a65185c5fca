#include "circuit/runtime/root.hpp"

#include "circuit/runtime/host.hpp"
#include "circuit/runtime/namespace.hpp"

namespace circuit {
namespace {

// A reader of `events`: first the present members as "join NAME" lines,
// then every event from the moment of the open, forever.
class events_handle final : public handle {
 public:
  events_handle(event_log& log, std::string present)
      : log_(log), present_(std::move(present)), cursor_(log.end()) {}
  ~events_handle() override {
    if (pending_) pending_->cancel(make_error(errc::interrupted, "events: closed"));
  }

  void read(std::uint64_t, std::size_t size, op_ptr<std::string> done) override {
    if (!present_.empty()) {
      std::size_t n = present_.rfind('\n', size - 1);
      n = (n == std::string::npos) ? std::min(size, present_.size()) : n + 1;
      std::string out = present_.substr(0, n);
      present_.erase(0, n);
      return done->complete(std::move(out));
    }
    pending_ = done;
    log_.read(&cursor_, size, done);
  }

 private:
  event_log& log_;
  std::string present_;
  std::uint64_t cursor_;
  op_ptr<std::string> pending_;
};

const file_entry root_files[] = {
    {.name = "members",
     .help = "one line per live host: name id address state (read)",
     .read = [](dir& d, const caller&) { return static_cast<root&>(d).members(); }},
    {.name = "events",
     .help = "\"join NAME\", \"leave NAME\", \"new PATH\", \"gone PATH\": blocks, never ends (read)",
     .open =
         [](dir& d, const open_args&, op_ptr<handle_ptr> done) {
           std::string present;
           for (dir* h : d.children()) present += "join " + h->name() + "\n";
           done->complete(handle_ptr(std::make_unique<events_handle>(d.space().events(), std::move(present))));
         },
     .readable = true},
};

}  // namespace

root::root(ns& space) : dir(space, nullptr, "") {}
root::~root() = default;

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
         "In it, channels/ holds channels: mkdir makes one, echo sends, cat receives.\n"
         "Every directory has help (what its files do) and error (why your last\n"
         "call in it failed). See circuit(4) and circuitd(8).";
}

std::string_view root::example() const {
  return "  cat members\n"
         "  mkdir */channels/jobs        # a channel on each host\n"
         "  cat events &                 # watch hosts and elements come and go";
}

dir* root::child(std::string_view name) {
  auto it = hosts_.find(name);
  return it == hosts_.end() ? nullptr : it->second.get();
}

std::vector<dir*> root::children() {
  std::vector<dir*> out;
  for (auto& [name, h] : hosts_) out.push_back(h.get());
  return out;
}

std::string root::members() const {
  std::string t;
  for (auto& [name, h] : hosts_)
    t += name + " " + h->member_id() + " " + space().cfg().address + " alive\n";
  return t;
}

}  // namespace circuit
