// The files of bin/: an upload's handle and a stored binary's, the table
// (stat), help, and the stat fields. The store itself is bin.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <cstring>

#include "bin.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/core/stat_table.hpp"
#include "incoming.hpp"
#include "sha256.hpp"

namespace circuit {
namespace {

// An open that writes a binary in. Every close or fsync after a write
// says the verdict so far (close(2) fails with EIO when the bytes are not
// the name's). The first whose bytes are the name's stores the binary
// (bin::end), and the open is complete: the kernel's release of the last
// close comes later, unawaited, and a spawn right after `cp` must find
// it. Else the last close ends the upload.
class upload_handle final : public handle {
 public:
  upload_handle(std::shared_ptr<bin> store, std::unique_ptr<incoming> in)
      : store_(std::move(store)), in_(std::move(in)), name_(in_->name()) {}
  ~upload_handle() override {
    if (in_) (void)store_->end(std::move(in_), false, nullptr);
  }

  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    if (!in_) return done->complete(stored());
    done->complete(in_->read(off, size));
  }
  result<std::size_t> write(const caller& who, std::uint64_t off, std::string_view data) override {
    last_ = who;
    if (!in_) return stored();
    if (off == in_->size())  // else the write is refused for its offset
      if (auto ok = store_->room(*in_, data.size()); !ok) return ok.err();
    auto n = in_->write(off, data);
    if (n) store_->wrote(*in_, *n);
    return n;
  }
  result<void> flush(const caller& who) override {
    last_ = who;
    if (!in_ || aborted_) return {};  // stored, or never will be (logged)
    if (in_->size() == 0) return {};  // nothing written yet (a shell's redirection)
    if (auto v = in_->verdict(); !v) return v;
    return store_->end(std::move(in_), true, &last_);
  }
  std::optional<error> abort(const caller& who, std::string_view why) override {
    if (aborted_ || !in_) return std::nullopt;
    aborted_ = true;
    error e =
        make_error(errc::bad_state, "bin: " + in_->name() + ": not kept: " + std::string(why));
    store_->space().log(e.message);
    last_ = who;
    return e;
  }
  bool abortable() const override { return !aborted_ && in_; }
  // Across hosts a close is carried as an fsync (cluster_face): the same.
  result<void> sync(const caller& who) override { return flush(who); }
  void release() override {
    if (in_) (void)store_->end(std::move(in_), !aborted_, &last_);
  }

 private:
  error stored() const {
    return make_error(errc::invalid, "bin: " + name_ +
                                         " was stored at a close of this open, whole; open it again to read it");
  }

  std::shared_ptr<bin> store_;
  std::unique_ptr<incoming> in_;  // null once stored
  std::string name_;
  caller last_;  // who wrote, closed or synced last: told why it was not kept
  bool aborted_ = false;
};

// An open of a stored binary for reading: its own descriptor, so an
// eviction or unlink meanwhile leaves it whole.
class binary_handle final : public handle {
 public:
  explicit binary_handle(int fd) : fd_(fd) {}
  ~binary_handle() override { ::close(fd_); }
  void read(std::uint64_t off, std::size_t size, op_ptr<std::string> done) override {
    std::string out(size, '\0');
    ssize_t n = pread(fd_, out.data(), size, static_cast<off_t>(off));
    if (n < 0) return done->complete(make_error(errc::io, std::string("bin: read: ") + std::strerror(errno)));
    out.resize(static_cast<std::size_t>(n));
    done->complete(std::move(out));
  }

 private:
  int fd_;
};

std::shared_ptr<bin> shared(bin& b) { return std::static_pointer_cast<bin>(b.shared_from_this()); }

void upload(bin& b, const open_args& args, std::string_view name, op_ptr<handle_ptr> done) {
  auto in = b.begin(args.who, name);
  if (!in) return done->complete(in.err());
  done->complete(handle_ptr(new upload_handle(shared(b), std::move(*in))));
}

const file_entry bin_files[] = {
    {.name = "stat",
     .help = "one JSON line: the stat fields below (read)",
     .read = [](dir& d, const caller&) { return static_cast<bin&>(d).stat(); },
     .mode = 0440},
};

using json = boost::json::value;

const stat_field<bin> bin_stat[] = {
    {"binaries", "{SHA: {\"size\": bytes, \"users\": live workers started from it, \"last_use\": unix seconds}}",
     [](const bin& b) {
       boost::json::object o;
       for (auto& [name, e] : b.entries())
         if (e.stored) o[name] = boost::json::object{{"size", e.size}, {"users", e.users}, {"last_use", e.last_use}};
       return json(std::move(o));
     }},
    {"bytes", "bytes of the binaries stored", [](const bin& b) { return json(b.bytes()); }},
    {"uploading",
     "bytes written by the uploads under way; together at most the bound (ENOSPC past it), "
     "those of a user other than root at most half of it (EDQUOT)",
     [](const bin& b) { return json(b.uploading()); }},
    {"bound", "past this many bytes, binaries nobody uses go, least recently used first (--store-bound)",
     [](const bin& b) { return json(b.space().cfg().store_bound); }},
    {"max_binary", "the largest binary taken, bytes (--store-max-binary)",
     [](const bin& b) { return json(b.space().cfg().store_max_binary); }},
    {"stored", "binaries stored since circuitd started (one written again is not counted)",
     [](const bin& b) { return json(b.stored_count()); }},
    {"received", "bytes written into the store since circuitd started, kept or not",
     [](const bin& b) { return json(b.received()); }},
    {"evicted", "binaries removed past the bound since circuitd started",
     [](const bin& b) { return json(b.evicted()); }},
    {"dir", "where the binaries are on disk (--store)", [](const bin& b) { return json(b.where()); }},
};

}  // namespace

std::span<const file_entry> bin::files() const { return bin_files; }

std::string bin::stat() const { return stat_json<bin>(bin_stat, *this); }

std::vector<stat_doc> bin::stat_fields() const { return stat_docs<bin>(bin_stat); }

std::string_view bin::about() const {
  return "This host's binary store: executables named by their sha256.\n"
         "\n"
         "Create a file named by its content's sha256 (64 lowercase hex digits)\n"
         "and write the binary in, in order: fsync, and every close after a write,\n"
         "fail with EIO while the bytes are not the name's (the words are in\n"
         "error); the last close stores it, or keeps nothing when they are not.\n"
         "A writer killed by a signal keeps nothing. Writing a binary that is\n"
         "there already checks it again and keeps the one there. Read one back\n"
         "with cat; stat(2) gives its size. A worker spec may name\n"
         "\"binary\": SHA instead of \"path\"; the worker then counts as a user\n"
         "of the binary while its processes live. Past the bound, binaries\n"
         "nobody uses or writes go, least recently used first; the uploads under\n"
         "way together take at most the bound too (a write past it: ENOSPC), and\n"
         "those of one user other than root at most half of it (EDQUOT). rm\n"
         "removes one (its owner or root; not while a worker uses it).";
}

std::string_view bin::example() const {
  return "  sha=$(sha256sum < ./app | cut -c1-64)\n"
         "  cp ./app $sha                 # from any host: cp ./app /circuit/h2/bin/$sha\n"
         "  mkdir ../workers/w && echo '{\"binary\":\"'$sha'\"}' > ../workers/w/spec\n"
         "  jq .binaries stat";
}

void bin::create(const open_args& args, std::string_view name, op_ptr<handle_ptr> done) {
  if (auto ok = check_sha256("create " + path(), name); !ok) return done->complete(ok.err());
  if (!args.wants_write())
    return done->complete(make_error(errc::invalid, "create " + path() + "/" + std::string(name) +
                                                        ": a binary is created to be written (O_WRONLY)"));
  upload(*this, args, name, std::move(done));
}

void bin::open_made(const made_file& f, const open_args& args, op_ptr<handle_ptr> done) {
  if (args.wants_write()) return upload(*this, args, f.name, std::move(done));
  auto it = entries().find(f.name);
  if (it == entries().end() || !it->second.stored)
    return done->complete(make_error(errc::busy, "bin: " + f.name + " is being written; it can be read once stored"));
  int fd = openat(dir_fd_, f.name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return done->complete(make_error(errc::io, "bin: open " + f.name + ": " + std::strerror(errno)));
  done->complete(handle_ptr(new binary_handle(fd)));
}

}  // namespace circuit
