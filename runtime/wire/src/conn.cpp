// conn.cpp — the client, one request at a time.
#include "conn.hpp"

#include <pwd.h>
#include <unistd.h>

#include <sstream>

namespace circuit::cmd {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> names;
  std::stringstream in(path);
  for (std::string name; std::getline(in, name, '/');)
    if (!name.empty()) names.push_back(name);
  return names;
}

template <class T, class F>
result<T> conn::wait(F issue) {
  std::optional<result<T>> out;
  issue([&out](result<T> r) { out.emplace(std::move(r)); });
  while (!out) {
    if (io_.stopped()) io_.restart();
    io_.run_one();
  }
  return std::move(*out);
}

result<std::unique_ptr<conn>> conn::open(const std::string& socket) {
  std::unique_ptr<conn> c(new conn());
  auto cl = c->wait<std::shared_ptr<wire::client>>([&](auto done) {
    wire::client::connect_unix(c->io_.get_executor(), socket, {}, std::move(done));
  });
  if (!cl) return cl.err();
  c->client_ = *cl;
  auto v = c->wait<std::uint32_t>([&](auto done) { c->client_->version(std::move(done)); });
  if (!v) return v.err();
  const passwd* pw = getpwuid(getuid());
  std::string uname = pw ? pw->pw_name : "nobody";
  c->root_ = c->client_->new_fid();
  auto q = c->wait<wire::qid>([&](auto done) {
    c->client_->attach(c->root_, uname, getuid(), "", std::move(done));
  });
  if (!q) return q.err();
  return c;
}

result<std::uint32_t> conn::walk(const std::vector<std::string>& names) {
  std::uint32_t fid = client_->new_fid();
  std::uint32_t from = root_;
  std::size_t at = 0;
  do {
    std::size_t n = std::min<std::size_t>(wire::max_walk, names.size() - at);
    std::vector<std::string> step(names.begin() + at, names.begin() + at + n);
    auto q = wait<std::vector<wire::qid>>(
        [&](auto done) { client_->walk(from, fid, step, std::move(done)); });
    if (q && q->size() < n) q = make_error(errc::not_found, "No such file or directory");
    if (!q) {
      if (from == fid) (void)clunk(fid);  // walked part of the way: let go
      else client_->release_fid(fid);
      return q.err();
    }
    from = fid;
    at += n;
  } while (at < names.size());
  return fid;
}

result<wire::rlopen> conn::lopen(std::uint32_t fid, std::uint32_t flags) {
  return wait<wire::rlopen>([&](auto done) { client_->lopen(fid, flags, std::move(done)); });
}

result<std::string> conn::read(std::uint32_t fid, std::uint64_t offset) {
  return wait<std::string>([&](auto done) {
    client_->read(fid, offset, client_->msize() - wire::rread_overhead, std::move(done));
  });
}

result<std::uint32_t> conn::write(std::uint32_t fid, std::uint64_t offset, std::string data) {
  return wait<std::uint32_t>(
      [&](auto done) { client_->write(fid, offset, std::move(data), std::move(done)); });
}

result<void> conn::clunk(std::uint32_t fid) {
  return wait<void>([&](auto done) { client_->clunk(fid, std::move(done)); });
}

result<void> conn::remove(std::uint32_t fid) {
  return wait<void>([&](auto done) { client_->remove(fid, std::move(done)); });
}

result<std::vector<wire::dirent>> conn::readdir(std::uint32_t fid, std::uint64_t offset) {
  return wait<std::vector<wire::dirent>>([&](auto done) {
    client_->readdir(fid, offset, client_->msize() - wire::rread_overhead, std::move(done));
  });
}

result<wire::rgetattr> conn::getattr(std::uint32_t fid) {
  return wait<wire::rgetattr>(
      [&](auto done) { client_->getattr(fid, wire::getattr_all, std::move(done)); });
}

result<wire::qid> conn::mkdir(std::uint32_t dfid, const std::string& name, std::uint32_t mode) {
  return wait<wire::qid>(
      [&](auto done) { client_->mkdir(dfid, name, mode, getgid(), std::move(done)); });
}

result<void> conn::rmdir(std::uint32_t dfid, const std::string& name) {
  return wait<void>(
      [&](auto done) { client_->unlinkat(dfid, name, wire::at_removedir, std::move(done)); });
}

result<std::string> conn::slurp(const std::vector<std::string>& names) {
  auto fid = walk(names);
  if (!fid) return fid.err();
  auto o = lopen(*fid, wire::o_rdonly);
  if (!o) {
    (void)clunk(*fid);
    return o.err();
  }
  std::string all;
  for (;;) {
    auto part = read(*fid, all.size());
    if (!part) {
      (void)clunk(*fid);
      return part.err();
    }
    if (part->empty()) break;
    all += *part;
  }
  auto c = clunk(*fid);
  if (!c) return c.err();
  return all;
}

}  // namespace circuit::cmd
