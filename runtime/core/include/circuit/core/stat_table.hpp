// stat_table.hpp — the fields of a `stat` file, as a table.
//
// An element's `stat` is one JSON object on one line. Each field is one
// row: its name, one line of help, and a function that gives its value
// from a view of the element (the element itself, or a struct that also
// holds what is read once per `stat`, like /proc figures). The same rows
// write the JSON (stat_json) and the "stat fields:" block of the
// directory's help (stat_docs, through dir::stat_fields), so the two
// cannot drift. Adding a field is adding a row; keys keep the rows' order.
//
//   const stat_field<channel> rows[] = {
//       {"cap", "buffer size", [](const channel& c) { return json::value(c.cap()); }},
//   };
//   std::string text = stat_json<channel>(rows, ch);  // {"cap":2}\n
//
// Values are any JSON (Boost.JSON escapes strings, so any bytes give valid
// JSON). A double is written in fixed notation with the row's `decimals`
// ("cpu":0.00, not Boost's 0E0), and as null when it is not finite.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <boost/json/value.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "circuit/core/dir.hpp"

namespace circuit {

template <class View>
struct stat_field {
  std::string_view name;
  std::string_view help;  // one line
  boost::json::value (*get)(const View&);
  int decimals = 3;  // digits after the point when the value is a double
};

namespace detail {
// Appends `"name":value` to `out`.
void append_stat_field(std::string& out, std::string_view name, const boost::json::value& v,
                       int decimals);
}  // namespace detail

// One JSON object on one line, with a trailing newline.
template <class View>
std::string stat_json(std::span<const stat_field<View>> rows, const View& v) {
  std::string out = "{";
  for (const auto& r : rows) {
    if (out.size() > 1) out += ',';
    detail::append_stat_field(out, r.name, r.get(v), r.decimals);
  }
  out += "}\n";
  return out;
}

// The names and help of the rows, for help_text.
template <class View>
std::vector<stat_doc> stat_docs(std::span<const stat_field<View>> rows) {
  std::vector<stat_doc> out;
  for (const auto& r : rows) out.push_back({r.name, r.help});
  return out;
}

}  // namespace circuit
