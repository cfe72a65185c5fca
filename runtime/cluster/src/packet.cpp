#include "packet.hpp"

namespace circuit::cluster::wire {

namespace {

// Each message's fields, once: the writer and the reader both walk them,
// so the two directions cannot disagree.
template <class F> void fields(F& f, ping& m) { f(m.seq), f(m.target), f(m.source), f(m.source_address); }
template <class F> void fields(F& f, indirect_ping& m) {
  f(m.seq), f(m.target), f(m.target_address), f(m.source), f(m.source_address);
}
template <class F> void fields(F& f, ack& m) { f(m.seq); }
template <class F> void fields(F& f, nack& m) { f(m.seq); }
template <class F> void fields(F& f, alive& m) { f(m.name), f(m.id), f(m.address), f(m.incarnation); }
template <class F> void fields(F& f, suspect& m) { f(m.name), f(m.incarnation), f(m.from); }
template <class F> void fields(F& f, dead& m) { f(m.name), f(m.incarnation), f(m.from); }
template <class F> void fields(F& f, member& m) {
  f(m.name), f(m.id), f(m.address), f(m.incarnation), f(m.st);
}

struct writer {
  std::string& out;
  void operator()(std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(char(v | 0x80));
      v >>= 7;
    }
    out.push_back(char(v));
  }
  void operator()(std::uint32_t v) { (*this)(std::uint64_t(v)); }
  void operator()(state s) { out.push_back(char(s)); }
  void operator()(const std::string& s) {
    (*this)(std::uint64_t(s.size()));
    out += s;
  }
};

// Reads fields from `in`; the first fault sets `fault` and stops every
// later read from consuming anything.
struct reader {
  std::string_view in;
  const char* fault = nullptr;

  void fail(const char* what) {
    if (!fault) fault = what;
    in = {};
  }
  bool varint(std::uint64_t& v, unsigned bits) {
    v = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (in.empty()) return fail("cut in a number"), false;
      auto b = std::uint8_t(in.front());
      in.remove_prefix(1);
      if (shift >= bits || (shift > 0 && (std::uint64_t(b & 0x7f) >> (bits - shift)) != 0))
        return fail("number too large"), false;
      v |= std::uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
  }
  void operator()(std::uint64_t& v) { varint(v, 64); }
  void operator()(std::uint32_t& v) {
    std::uint64_t x;
    if (varint(x, 32)) v = std::uint32_t(x);
  }
  void operator()(state& s) {
    if (in.empty()) return fail("cut in a state");
    auto b = std::uint8_t(in.front());
    in.remove_prefix(1);
    if (b > std::uint8_t(state::left)) return fail("unknown state");
    s = state(b);
  }
  void operator()(std::string& s) {
    std::uint64_t n;
    if (!varint(n, 64)) return;
    if (n > max_text) return fail("string too long");
    if (n > in.size()) return fail("cut in a string");
    s.assign(in.substr(0, n));
    in.remove_prefix(n);
  }
  std::uint8_t byte() {
    if (in.empty()) return fail("cut"), 0;
    auto b = std::uint8_t(in.front());
    in.remove_prefix(1);
    return b;
  }
};

error malformed(const char* what) { return make_error(errc::invalid, std::string("cluster: malformed packet: ") + what); }

// Kind byte = variant index + 1.
template <std::size_t I = 0>
bool read_kind(reader& r, std::size_t kind, message& out) {
  if constexpr (I == std::variant_size_v<message>) {
    return false;
  } else {
    if (kind != I) return read_kind<I + 1>(r, kind, out);
    std::variant_alternative_t<I, message> m;
    fields(r, m);
    out = std::move(m);
    return true;
  }
}

}  // namespace

void encode_to(std::string& out, const message& m) {
  out.push_back(char(m.index() + 1));
  writer w{out};
  std::visit([&](auto x) { fields(w, x); }, m);
}

std::string encode(const std::vector<message>& ms) {
  std::string out(1, char(version));
  for (auto& m : ms) encode_to(out, m);
  return out;
}

result<std::vector<message>> decode(std::string_view packet) {
  reader r{packet};
  if (r.byte() != version) return malformed("unknown version");
  std::vector<message> out;
  while (!r.in.empty()) {
    std::size_t kind = r.byte();
    message m;
    if (kind == 0 || !read_kind(r, kind - 1, m)) return malformed("unknown kind");
    if (r.fault) return malformed(r.fault);
    out.push_back(std::move(m));
  }
  if (out.empty()) return malformed("no message");
  return out;
}

std::string encode_exchange(const exchange& e) {
  std::string out{char(version), char(e.kind)};
  writer w{out};
  if (e.kind == exchange_kind::refused) {
    w(e.reason);
    return out;
  }
  w(std::uint64_t(e.members.size()));
  for (auto m : e.members) fields(w, m);
  return out;
}

result<exchange> decode_exchange(std::string_view bytes) {
  reader r{bytes};
  if (r.byte() != version) return malformed("unknown version");
  exchange e;
  auto kind = r.byte();
  if (kind < 1 || kind > 4) return malformed("unknown exchange kind");
  e.kind = exchange_kind(kind);
  if (e.kind == exchange_kind::refused) {
    r(e.reason);
  } else {
    std::uint64_t n = 0;
    r(n);
    // Each entry takes at least 5 bytes: a count past that is a lie.
    if (n > max_entries || n > r.in.size() / 5) return malformed("too many members");
    e.members.resize(n);
    for (auto& m : e.members) fields(r, m);
  }
  if (r.fault) return malformed(r.fault);
  if (!r.in.empty()) return malformed("bytes after the end");
  return e;
}

}  // namespace circuit::cluster::wire
