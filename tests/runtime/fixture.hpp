// fixture.hpp — drives the namespace core in one process, without FUSE:
// path walks, opens and reads as a face would make them, with every
// completion counted so exactly-once is checked.
#pragma once

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "circuit/core/namespace.hpp"
#include "circuit/elements/tree.hpp"

namespace circuit::test {

struct space {
  ns n{config{.host = "h1"}, make_tree};
  caller who;
  int completions = 0;

  std::uint64_t walk(const std::string& path) {
    std::uint64_t ino = ns::root_ino;
    std::size_t i = 1;
    while (i < path.size()) {
      auto j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      auto a = n.lookup(who, ino, path.substr(i, j - i));
      REQUIRE(a.ok());
      ino = a->ino;
      i = j + 1;
    }
    return ino;
  }

  // An open that may park: `result` is filled when it completes.
  struct pending_open {
    op_ptr<open_file*> op;
    std::optional<circuit::result<open_file*>> result;
  };

  std::shared_ptr<pending_open> open(const std::string& path, int flags) {
    auto p = std::make_shared<pending_open>();
    p->op = make_op<open_file*>([this, p](circuit::result<open_file*> r) {
      ++completions;
      p->result.emplace(std::move(r));
    });
    n.open(walk(path), open_args{who, flags}, p->op);
    return p;
  }

  std::string read_all(open_file* f) {
    std::string out;
    for (;;) {
      std::optional<result<std::string>> got;
      n.read(*f, who, out.size(), 4096, make_op<std::string>([&](result<std::string> r) {
               ++completions;
               got.emplace(std::move(r));
             }));
      REQUIRE(got);
      REQUIRE(got->ok());
      if (got->value().empty()) return out;
      out += got->value();
    }
  }

  // A write that must complete at once.
  result<std::size_t> write(open_file* f, std::uint64_t off, const std::string& data) {
    std::optional<result<std::size_t>> got;
    n.write(*f, who, off, data, make_op<std::size_t>([&](result<std::size_t> r) {
              ++completions;
              got.emplace(std::move(r));
            }));
    REQUIRE(got);
    return *got;
  }

  result<void> send(const std::string& chan, const std::string& msg) {
    auto o = open(chan + "/send", O_WRONLY);
    REQUIRE(o->result);
    if (!o->result->ok()) return o->result->err();
    open_file* f = o->result->value();
    auto w = write(f, 0, msg);
    REQUIRE(w.ok());
    auto r = n.flush(*f, who);
    n.release(f);
    return r;
  }

  std::optional<std::string> recv(const std::string& chan) {
    auto o = open(chan + "/recv", O_RDONLY);
    if (!o->result || !o->result->ok()) return std::nullopt;
    open_file* f = o->result->value();
    std::string m = read_all(f);
    n.release(f);
    return m;
  }

  std::string text(const std::string& path) {
    auto o = open(path, O_RDONLY);
    REQUIRE(o->result);
    REQUIRE(o->result->ok());
    std::string t = read_all(o->result->value());
    n.release(o->result->value());
    return t;
  }

  result<void> put(const std::string& path, const std::string& data) {
    auto o = open(path, O_WRONLY);
    REQUIRE(o->result);
    if (!o->result->ok()) return o->result->err();
    auto w = write(o->result->value(), 0, data);
    n.release(o->result->value());
    if (!w) return w.err();
    return {};
  }

  std::string mkchan(const std::string& name, int cap = 0) {
    auto a = n.mkdir(who, walk("/h1/channels"), name);
    REQUIRE(a.ok());
    std::string p = "/h1/channels/" + name;
    if (cap) REQUIRE(put(p + "/cap", std::to_string(cap)).ok());
    return p;
  }
};

}  // namespace circuit::test
