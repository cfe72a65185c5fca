#include "spec.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "circuit/core/ctl.hpp"
#include "sha256.hpp"

namespace circuit {
namespace json = boost::json;
namespace {

error bad(std::string detail) { return make_error(errc::invalid, "bad spec: " + std::move(detail)); }

result<std::vector<std::string>> strings(std::string_view field, const json::value& v) {
  if (!v.is_array()) return bad("\"" + std::string(field) + "\" must be an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.as_array().size(); ++i) {
    const auto& e = v.as_array()[i];
    if (!e.is_string())
      return bad("\"" + std::string(field) + "\" must be an array of strings; element " +
                 std::to_string(i) + " is " + std::string(json::to_string(e.kind())));
    out.emplace_back(e.as_string());
  }
  return out;
}

result<std::string> text(std::string_view field, const json::value& v) {
  if (!v.is_string()) return bad("\"" + std::string(field) + "\" must be a string");
  return std::string(v.as_string());
}

struct field {
  std::string_view name;
  bool required;
  result<void> (*set)(spec&, const json::value&);
};

const field fields[] = {
    {"path", false,
     [](spec& s, const json::value& v) -> result<void> {
       auto t = text("path", v);
       if (!t) return t.err();
       if (t->empty() || (*t)[0] != '/') return bad("\"path\" must be an absolute path");
       s.path = std::move(*t);
       return {};
     }},
    {"binary", false,
     [](spec& s, const json::value& v) -> result<void> {
       auto t = text("binary", v);
       if (!t) return t.err();
       if (auto ok = check_sha256("bad spec: \"binary\"", *t); !ok) return ok.err();
       s.binary = std::move(*t);
       return {};
     }},
    {"args", false,
     [](spec& s, const json::value& v) -> result<void> {
       auto a = strings("args", v);
       if (!a) return a.err();
       s.args = std::move(*a);
       return {};
     }},
    {"env", false,
     [](spec& s, const json::value& v) -> result<void> {
       auto a = strings("env", v);
       if (!a) return a.err();
       for (auto& e : *a)
         if (e.find('=') == std::string::npos || e[0] == '=')
           return bad("\"env\" entries are NAME=VALUE; " + quote(e) + " is not");
       s.env = std::move(*a);
       return {};
     }},
    {"dir", false,
     [](spec& s, const json::value& v) -> result<void> {
       auto t = text("dir", v);
       if (!t) return t.err();
       s.dir = std::move(*t);
       return {};
     }},
};

bool has_nul(const spec& s) {
  auto nul = [](const std::string& t) { return t.find('\0') != std::string::npos; };
  bool any = nul(s.path) || nul(s.dir);
  for (auto& a : s.args) any = any || nul(a);
  if (s.env)
    for (auto& e : *s.env) any = any || nul(e);
  return any;
}

}  // namespace

result<spec> parse_spec(std::string_view body) {
  if (body.size() > max_spec_bytes)
    return make_error(errc::too_big, "bad spec: " + std::to_string(body.size()) +
                                         " bytes is over the limit of " +
                                         std::to_string(max_spec_bytes));
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 16;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec, {}, opt);
  if (ec == json::error::incomplete || (ec && ec == json::error::syntax && body.empty()))
    return make_error(errc::would_block, "bad spec: incomplete JSON");
  if (ec) return bad("not JSON: " + ec.message());
  if (!v.is_object()) return bad("must be a JSON object, not " + std::string(json::to_string(v.kind())));
  spec s;
  for (const auto& [key, val] : v.as_object()) {
    const field* f = nullptr;
    for (const auto& row : fields)
      if (row.name == std::string_view(key.data(), key.size())) f = &row;
    if (!f) return bad("unknown field " + quote(std::string_view(key.data(), key.size())));
    if (auto r = f->set(s, val); !r) return r.err();
  }
  for (const auto& row : fields)
    if (row.required && !v.as_object().contains(json::string_view(row.name.data(), row.name.size())))
      return bad("\"" + std::string(row.name) + "\" is required");
  if (s.path.empty() == s.binary.empty())
    return bad(s.path.empty() ? "\"path\" or \"binary\" is required" : "give \"path\" or \"binary\", not both");
  if (has_nul(s)) return bad("strings may not contain NUL");
  return s;
}

result<void> check_spec(const spec& s) {
  struct stat st {};
  if (stat(s.path.c_str(), &st) != 0)
    return make_error(errc::not_found, "bad spec: path " + clip(s.path) + ": no such file");
  if (S_ISDIR(st.st_mode)) return make_error(errc::is_dir, "bad spec: path " + clip(s.path) + " is a directory");
  if (!S_ISREG(st.st_mode) || access(s.path.c_str(), X_OK) != 0)
    return make_error(errc::access, "bad spec: path " + clip(s.path) + " is not executable");
  if (!s.dir.empty() && stat(s.dir.c_str(), &st) != 0)
    return make_error(errc::not_found, "bad spec: dir " + clip(s.dir) + ": no such directory");
  if (!s.dir.empty() && !S_ISDIR(st.st_mode))
    return make_error(errc::not_dir, "bad spec: dir " + clip(s.dir) + " is not a directory");
  return {};
}

std::string to_json(const spec& s) {
  json::object o;
  if (s.binary.empty()) o["path"] = s.path;
  else o["binary"] = s.binary;
  json::array a;
  for (auto& x : s.args) a.emplace_back(x);
  o["args"] = std::move(a);
  if (s.env) {
    json::array e;
    for (auto& x : *s.env) e.emplace_back(x);
    o["env"] = std::move(e);
  }
  if (!s.dir.empty()) o["dir"] = s.dir;
  return json::serialize(o) + "\n";
}

}  // namespace circuit
