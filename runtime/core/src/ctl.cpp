#include "circuit/core/ctl.hpp"

#include <algorithm>
#include <charconv>

namespace circuit {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

void append_escaped(std::string& out, std::string_view s, bool quoting) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || (quoting && (c >= 0x80 || c == '"' || c == '\\'))) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

std::string quote(std::string_view s) {
  std::string q = "\"";
  append_escaped(q, s.substr(0, 40), true);
  if (s.size() > 40) q += "...";
  return q + "\"";
}

std::string clip(std::string_view s, std::size_t max) {
  std::string out;
  max = std::max<std::size_t>(max, 8);
  if (s.size() <= max) {
    append_escaped(out, s, false);
    return out;
  }
  std::size_t head = max * 2 / 3, tail = max - head - 3;
  append_escaped(out, s.substr(0, head), false);
  out += "...";
  append_escaped(out, s.substr(s.size() - tail), false);
  return out;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !blank(line[j])) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

result<std::uint64_t> parse_count(std::string_view what, std::string_view text,
                                  std::uint64_t max) {
  std::string w(what);
  std::string_view t = trim(text);
  if (t.empty()) return make_error(errc::invalid, w + ": empty; write a number");
  if (t[0] == '-') return make_error(errc::invalid, w + ": " + quote(t) + " is negative");
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  bool digits = end == t.data() + t.size();
  for (char c : t) digits = digits && c >= '0' && c <= '9';
  if (!digits) return make_error(errc::invalid, w + ": " + quote(t) + " is not a number");
  if (ec == std::errc::result_out_of_range || v > max)
    return make_error(errc::out_of_range,
                      w + ": " + quote(t) + " is too large; the limit is " + std::to_string(max));
  return v;
}

result<void> run_ctl(std::span<const verb> verbs, dir& d, const caller& who,
                     std::string_view text) {
  int lineno = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineno;
    auto words = split_words(line);
    if (words.empty()) continue;
    std::string at = "ctl: line " + std::to_string(lineno) + ": ";
    const verb* v = nullptr;
    for (const auto& row : verbs)
      if (row.name == words[0]) v = &row;
    if (!v) {
      std::string known;
      for (const auto& row : verbs) known += (known.empty() ? "" : ", ") + std::string(row.name);
      return make_error(errc::invalid,
                        at + "unknown command " + quote(words[0]) + "; commands are: " + known);
    }
    if (static_cast<int>(words.size()) - 1 != v->nargs)
      return make_error(errc::invalid, at + "usage: " + std::string(v->usage));
    auto r = v->run(d, who, std::span(words).subspan(1));
    if (!r) {
      r.err().message = at + r.err().message;
      return r;
    }
  }
  return {};
}

}  // namespace circuit
