// names.cpp — the names of message types, and which T codes are valid.
#include <array>

#include "circuit/wire/codec.hpp"
#include "circuit/wire/constants.hpp"

namespace circuit::wire {
namespace {

struct type_entry {
  std::uint8_t code;
  std::string_view name;
};

// Every request of 9P2000, 9P2000.u and 9P2000.L (Terror and Tlerror are
// not requests: nobody sends them). The reply of each is code + 1.
constexpr std::array<type_entry, 34> requests = {{
    {8, "statfs"},    {12, "lopen"},   {14, "lcreate"},   {16, "symlink"},  {18, "mknod"},
    {20, "rename"},   {22, "readlink"}, {24, "getattr"},  {26, "setattr"},  {30, "xattrwalk"},
    {32, "xattrcreate"}, {40, "readdir"}, {50, "fsync"},  {52, "lock"},     {54, "getlock"},
    {70, "link"},     {72, "mkdir"},   {74, "renameat"},  {76, "unlinkat"}, {100, "version"},
    {102, "auth"},    {104, "attach"}, {108, "flush"},    {110, "walk"},    {112, "open"},
    {114, "create"},  {116, "read"},   {118, "write"},    {120, "clunk"},   {122, "remove"},
    {124, "stat"},    {126, "wstat"},  {6, "lerror"},     {106, "error"},
}};
constexpr std::size_t real_requests = requests.size() - 2;  // less lerror and error


}  // namespace

bool is_known_tmessage(std::uint8_t type) {
  for (std::size_t i = 0; i < real_requests; ++i)
    if (requests[i].code == type) return true;
  return false;
}

std::string_view mtype_name(std::uint8_t type) {
  // Built once: "T" or "R" and the name, for every code of the table.
  static const std::array<std::string, 256> names = [] {
    std::array<std::string, 256> n;
    for (auto& e : requests) {
      n[e.code] = "T" + std::string(e.name);
      n[e.code + 1] = "R" + std::string(e.name);
    }
    return n;
  }();
  if (!names[type].empty()) return names[type];
  return type % 2 == 0 ? "T?" : "R?";
}

}  // namespace circuit::wire
