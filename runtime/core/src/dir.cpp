#include "circuit/core/dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "circuit/core/namespace.hpp"

namespace circuit {

bool principal::in_group(gid_t g) const {
  if (gid == g) return true;
  for (gid_t x : groups)
    if (x == g) return true;
  return false;
}

bool open_args::wants_read() const {
  int acc = flags & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}

bool open_args::wants_write() const {
  int acc = flags & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}

result<std::size_t> handle::write(const caller&, std::uint64_t, std::string_view) {
  return make_error(errc::access, "write: file is not open for writing");
}

result<void> handle::flush(const caller&) { return {}; }

namespace {
class snapshot final : public handle {
 public:
  snapshot(std::string text, bool final) : text_(std::move(text)), final_(final) {}
  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    done->complete(off >= text_.size() ? std::string() : text_.substr(off, size));
  }
  bool outlives_element() const override { return final_; }

 private:
  std::string text_;
  bool final_;
};
}  // namespace

handle_ptr make_text_handle(std::string text) {
  return std::make_unique<snapshot>(std::move(text), false);
}

handle_ptr make_result_handle(std::string text) {
  return std::make_unique<snapshot>(std::move(text), true);
}

dir::dir(ns& space, dir* parent, std::string name)
    : space_(space),
      parent_(parent),
      name_(std::move(name)),
      id_(space.enroll(this)),
      maker_(parent ? parent->maker() : space.cfg().daemon) {}

dir::~dir() {
  if (counted_) space_.count_element(*counted_, -1);
  space_.forget(id_);
}

void dir::count_for(uid_t uid) {
  if (counted_) return;
  counted_ = uid;
  space_.count_element(uid, 1);
}

std::string dir::path() const {
  if (!parent_) return "/";
  std::string p = parent_->path();
  if (p.size() > 1) p += '/';
  return p + name_;
}

result<dir*> dir::make(const caller&, std::string_view) {
  return make_error(errc::not_permitted, "mkdir: " + path() + " does not make directories");
}

result<void> dir::remove(const caller&, std::string_view name) {
  return make_error(errc::not_permitted, "rmdir: " + std::string(name) + " cannot be removed");
}

error fixed_files(const dir& d, std::string_view what, std::string_view name) {
  return make_error(errc::not_permitted, std::string(what) + ": " + std::string(name) + ": " +
                                             d.path() + " " + std::string(d.refusal()));
}

void dir::create(const open_args&, std::string_view name, op_ptr<handle_ptr> done) {
  done->complete(fixed_files(*this, "create", name));
}

void dir::open_made(const made_file& f, const open_args&, op_ptr<handle_ptr> done) {
  done->complete(make_error(errc::not_found, f.name + ": no such file"));
}

result<void> dir::unlink(const caller&, std::string_view name) { return fixed_files(*this, "unlink", name); }

result<void> check_name(std::string_view what, std::string_view name) {
  std::string w(what);
  if (name.empty()) return make_error(errc::invalid, w + ": empty name");
  if (name.size() > 64)
    return make_error(errc::invalid, w + ": name is " + std::to_string(name.size()) +
                                         " characters long; the limit is 64");
  if (name == "." || name == "..")
    return make_error(errc::invalid, w + ": \"" + std::string(name) + "\" is not a name");
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      char buf[8];
      if (c < 0x20 || c >= 0x7f)
        snprintf(buf, sizeof buf, "\\x%02x", c);
      else
        snprintf(buf, sizeof buf, "'%c'", c);
      return make_error(errc::invalid, w + ": name has the character " + buf +
                                           "; names are letters, digits, '.', '_' and '-'");
    }
  }
  return {};
}

std::string help_text(const dir& d) {
  std::string t(d.about());
  if (!t.empty() && t.back() != '\n') t += '\n';
  if (!d.parent() && !d.space().cfg().socket.empty())
    t += "\nThe same tree is served as 9P2000.L on the Unix socket " + d.space().cfg().socket +
         "\n(for the circuit command, libcircuit and any 9P client; circuit-wire(7)).\n";
  t += "\nfiles:\n";
  auto row = [&t](std::string_view name, std::string_view help) {
    t += "  ";
    t += name;
    t.append(name.size() < 10 ? 10 - name.size() : 1, ' ');
    t += help;
    t += '\n';
  };
  row("help", "this text");
  row("error", "the last error of your session, as your uid, in this directory (read)");
  for (const auto& f : d.files()) row(f.name, f.help);
  if (auto fields = d.stat_fields(); !fields.empty()) {
    t += "\nstat fields (the keys of stat, in order):\n";
    for (const auto& f : fields) {
      t += "  ";
      t += f.name;
      t.append(f.name.size() < 20 ? 20 - f.name.size() : 1, ' ');
      t += f.help;
      t += '\n';
    }
  }
  if (!d.verbs().empty()) {
    t += "\nctl commands:\n";
    for (const auto& v : d.verbs()) {
      t += "  ";
      t += v.usage;
      t.append(v.usage.size() < 18 ? 18 - v.usage.size() : 1, ' ');
      t += v.help;
      t += '\n';
    }
  }
  std::string_view ex = d.example();
  if (!ex.empty()) {
    t += "\nexample:\n";
    t += ex;
    if (t.back() != '\n') t += '\n';
  }
  return t;
}

}  // namespace circuit
