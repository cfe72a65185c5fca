#include "circuit/core/stat_table.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstdio>

namespace circuit::detail {

void append_stat_field(std::string& out, std::string_view name, const boost::json::value& v,
                       int decimals) {
  out += boost::json::serialize(boost::json::string(name));
  out += ':';
  if (!v.is_double()) {
    out += boost::json::serialize(v);
    return;
  }
  // Boost.JSON writes doubles in exponent form (0E0); stat has always
  // printed fixed decimals, and readers compare the text.
  double d = v.get_double();
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%.*f", decimals, d);
  if (n < 0 || n >= static_cast<int>(sizeof buf)) {
    out += boost::json::serialize(v);  // too large for fixed notation: still valid JSON
    return;
  }
  out.append(buf, n);
}

}  // namespace circuit::detail
