// verbs.cpp — ls, cat, write, mkdir, rmdir and stat over 9P.
#include "verbs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>

namespace circuit::cmd {
namespace {

// Runs `body` on a fid and clunks it whatever happens; the body's error
// comes first, then the clunk's.
template <class F>
result<void> with_fid(conn& c, std::uint32_t fid, F body) {
  result<void> r = body();
  auto cl = c.clunk(fid);
  if (!r) return r;
  return cl;
}

result<void> list(conn& c, std::uint32_t fid, const std::string& path) {
  auto attr = c.getattr(fid);
  if (!attr) return attr.err();
  if (!S_ISDIR(attr->mode)) {
    std::cout << path << '\n';
    return {};
  }
  if (auto o = c.lopen(fid, wire::o_rdonly | wire::o_directory); !o) return o.err();
  std::vector<std::string> names;
  for (std::uint64_t offset = 0;;) {
    auto ents = c.readdir(fid, offset);
    if (!ents) return ents.err();
    if (ents->empty()) break;
    for (auto& e : *ents)
      if (e.name != "." && e.name != "..") names.push_back(e.name);
    offset = ents->back().offset;
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) std::cout << n << '\n';
  return {};
}

result<void> ls(conn& c, const std::string& path) {
  auto fid = c.walk(split_path(path));
  if (!fid) return fid.err();
  return with_fid(c, *fid, [&] { return list(c, *fid, path); });
}

result<void> cat(conn& c, const std::string& path) {
  auto fid = c.walk(split_path(path));
  if (!fid) return fid.err();
  return with_fid(c, *fid, [&]() -> result<void> {
    if (auto o = c.lopen(*fid, wire::o_rdonly); !o) return o.err();
    for (std::uint64_t offset = 0;;) {
      auto part = c.read(*fid, offset);
      if (!part) return part.err();
      if (part->empty()) return {};
      std::cout.write(part->data(), part->size());
      std::cout.flush();
      offset += part->size();
    }
  });
}

// Stdin as one message: one open, its writes, and the clunk that commits
// it. A write that fails aborts the open (remove), so nothing of it is
// delivered.
result<void> write(conn& c, const std::string& path) {
  std::string data(std::istreambuf_iterator<char>(std::cin), {});
  auto fid = c.walk(split_path(path));
  if (!fid) return fid.err();
  if (auto o = c.lopen(*fid, wire::o_wronly); !o) {
    (void)c.clunk(*fid);
    return o.err();
  }
  for (std::size_t at = 0; at < data.size();) {
    std::size_t n = std::min<std::size_t>(c.max_write(), data.size() - at);
    auto w = c.write(*fid, at, data.substr(at, n));
    if (w && *w == 0) w = make_error(errc::io, "Input/output error");
    if (!w) {
      (void)c.remove(*fid);
      return w.err();
    }
    at += *w;
  }
  return c.clunk(*fid);
}

// The parent's fid and the last name of `path`.
struct parent_and_name {
  std::uint32_t fid;
  std::string name;
};
result<parent_and_name> parent(conn& c, const std::string& path) {
  auto names = split_path(path);
  if (names.empty()) return make_error(errc::busy, "Device or resource busy");  // the root
  std::string name = names.back();
  names.pop_back();
  auto fid = c.walk(names);
  if (!fid) return fid.err();
  return parent_and_name{*fid, name};
}

result<void> mkdir(conn& c, const std::string& path) {
  auto p = parent(c, path);
  if (!p) return p.err();
  mode_t mask = umask(0);
  umask(mask);
  return with_fid(c, p->fid, [&]() -> result<void> {
    auto q = c.mkdir(p->fid, p->name, 0777 & ~mask);
    if (!q) return q.err();
    return {};
  });
}

result<void> rmdir(conn& c, const std::string& path) {
  auto p = parent(c, path);
  if (!p) return p.err();
  return with_fid(c, p->fid, [&] { return c.rmdir(p->fid, p->name); });
}

result<void> stat(conn& c, const std::string& path) {
  auto fid = c.walk(split_path(path));
  if (!fid) return fid.err();
  return with_fid(c, *fid, [&]() -> result<void> {
    auto a = c.getattr(*fid);
    if (!a) return a.err();
    char mode[16];
    std::snprintf(mode, sizeof mode, "%o", a->mode);
    std::cout << "path " << path << '\n'
              << "type " << (S_ISDIR(a->mode) ? "directory" : "file") << '\n'
              << "mode " << mode << '\n'
              << "uid " << a->uid << '\n'
              << "gid " << a->gid << '\n'
              << "size " << a->size << '\n'
              << "mtime " << a->mtime_sec << '\n'
              << "qid " << std::hex << unsigned(a->qid.type) << '.' << std::dec
              << a->qid.version << '.' << a->qid.path << '\n';
    return {};
  });
}

}  // namespace

const verb verbs[] = {
    {"ls", ls, true, "list a directory (a file: print its path)"},
    {"cat", cat, true, "print a file (a channel's recv: take one message)"},
    {"write", write, false, "send standard input as one message (one open, writes, close)"},
    {"mkdir", mkdir, true, "make a directory (a channel, a worker)"},
    {"rmdir", rmdir, true, "remove a directory (a channel, a worker)"},
    {"stat", stat, true, "print a file's attributes"},
    {nullptr, nullptr, false, nullptr},
};

}  // namespace circuit::cmd
