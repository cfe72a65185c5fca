// codec.cpp — encode and decode whole frames with the field lists of fields.hpp.
#include "circuit/wire/codec.hpp"

#include <array>
#include <utility>

#include "fields.hpp"

namespace circuit::wire {
namespace {

// The type code of each alternative, in the variants' order.
constexpr std::array t_codes = {
    mtype::tversion, mtype::tauth,     mtype::tattach,  mtype::twalk,   mtype::tlopen,
    mtype::tlcreate, mtype::tread,     mtype::twrite,   mtype::tclunk,  mtype::tflush,
    mtype::tgetattr, mtype::tsetattr,  mtype::treaddir, mtype::tmkdir,  mtype::tunlinkat,
    mtype::tremove,  mtype::trenameat, mtype::tfsync,   mtype::tstatfs, mtype::tsymlink,
    mtype::tmknod,   mtype::tlink};
constexpr std::array r_codes = {
    mtype::rversion, mtype::rauth,     mtype::rattach,  mtype::rwalk,   mtype::rlopen,
    mtype::rlcreate, mtype::rread,     mtype::rwrite,   mtype::rclunk,  mtype::rflush,
    mtype::rgetattr, mtype::rsetattr,  mtype::rreaddir, mtype::rmkdir,  mtype::runlinkat,
    mtype::rremove,  mtype::rrenameat, mtype::rfsync,   mtype::rstatfs, mtype::rsymlink,
    mtype::rmknod,   mtype::rlink,     mtype::rlerror};
static_assert(t_codes.size() + 1 == std::variant_size_v<tmessage>);  // + tunsupported
static_assert(r_codes.size() == std::variant_size_v<rmessage>);

void put_u32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = char((v >> (8 * i)) & 0xff);
}

template <class Variant>
void encode_frame(std::string& out, std::uint16_t tag, std::uint8_t type, const Variant& m) {
  std::size_t start = out.size();
  out.append(4, '\0');
  out.push_back(char(type));
  out.push_back(char(tag & 0xff));
  out.push_back(char(tag >> 8));
  detail::writer w(out);
  // The writer only reads the fields; io() takes them by reference so one
  // list serves both directions.
  std::visit([&](const auto& msg) { io(w, const_cast<std::decay_t<decltype(msg)>&>(msg)); }, m);
  put_u32(out, start, std::uint32_t(out.size() - start));
}

error bad(std::uint8_t type, const std::string& what) {
  return make_error(errc::invalid, "9p: " + std::string(mtype_name(type)) + ": " + what);
}

// Reads the body of alternative I of Variant from `body`, whole.
template <class Variant, std::size_t I>
result<Variant> decode_body(std::uint8_t type, std::string_view body) {
  std::variant_alternative_t<I, Variant> msg{};
  detail::reader r(body);
  io(r, msg);
  if (r.failed()) return bad(type, r.problem());
  if (r.left() != 0) return bad(type, std::to_string(r.left()) + " bytes after the last field");
  return Variant(std::in_place_index<I>, std::move(msg));
}

template <class Variant>
using body_decoder = result<Variant> (*)(std::uint8_t, std::string_view);

// A table from type code to the decoder of its alternative (null: unknown).
template <class Variant, std::size_t N, std::size_t... I>
constexpr std::array<body_decoder<Variant>, 256> make_table(const std::array<mtype, N>& codes,
                                                           std::index_sequence<I...>) {
  std::array<body_decoder<Variant>, 256> table{};
  ((table[std::size_t(codes[I])] = &decode_body<Variant, I>), ...);
  return table;
}

constexpr auto t_table = make_table<tmessage>(t_codes, std::make_index_sequence<t_codes.size()>{});
constexpr auto r_table = make_table<rmessage>(r_codes, std::make_index_sequence<r_codes.size()>{});

std::uint32_t get_u32(std::string_view b) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(static_cast<unsigned char>(b[i])) << (8 * i);
  return v;
}

// Checks the header of a whole frame; the error, or nothing.
result<void> check_header(std::string_view bytes, std::uint32_t msize) {
  if (bytes.size() < header_size)
    return make_error(errc::invalid, "9p: frame of " + std::to_string(bytes.size()) +
                                         " bytes is shorter than its header");
  if (bytes.size() > msize)
    return make_error(errc::invalid, "9p: frame of " + std::to_string(bytes.size()) +
                                         " bytes is over msize " + std::to_string(msize));
  if (std::uint32_t size = get_u32(bytes); size != bytes.size())
    return make_error(errc::invalid, "9p: size field says " + std::to_string(size) +
                                         ", frame has " + std::to_string(bytes.size()) + " bytes");
  return {};
}

template <class Variant>
result<frame<Variant>> decode_with(const std::array<body_decoder<Variant>, 256>& table,
                                   std::string_view bytes, std::uint32_t msize) {
  if (auto ok = check_header(bytes, msize); !ok) return ok.err();
  auto type = static_cast<std::uint8_t>(bytes[4]);
  std::uint16_t tag = peek_tag(bytes);
  std::string_view body = bytes.substr(header_size);
  if (auto decode = table[type]) {
    auto m = decode(type, body);
    if (!m) return m.err();
    return frame<Variant>{tag, std::move(*m)};
  }
  if constexpr (std::is_same_v<Variant, tmessage>) {
    if (is_known_tmessage(type)) return frame<Variant>{tag, tunsupported{type}};
  }
  return make_error(errc::invalid, "9p: unknown message type " + std::to_string(type));
}

}  // namespace

void encode_to(std::string& out, std::uint16_t tag, const tmessage& m) {
  encode_frame(out, tag, type_code(m), m);
}
void encode_to(std::string& out, std::uint16_t tag, const rmessage& m) {
  encode_frame(out, tag, std::uint8_t(type_of(m)), m);
}
std::string encode(std::uint16_t tag, const tmessage& m) {
  std::string out;
  encode_to(out, tag, m);
  return out;
}
std::string encode(std::uint16_t tag, const rmessage& m) {
  std::string out;
  encode_to(out, tag, m);
  return out;
}

result<frame<tmessage>> decode_t(std::string_view bytes, std::uint32_t msize) {
  return decode_with(t_table, bytes, msize);
}
result<frame<rmessage>> decode_r(std::string_view bytes, std::uint32_t msize) {
  return decode_with(r_table, bytes, msize);
}

result<std::uint32_t> next_frame_size(std::string_view buffer, std::uint32_t msize) {
  if (buffer.size() < 4) return std::uint32_t(0);
  std::uint32_t size = get_u32(buffer);
  if (size < header_size)
    return make_error(errc::invalid, "9p: size field says " + std::to_string(size) +
                                         ", shorter than a header");
  if (size > msize)
    return make_error(errc::invalid, "9p: size field says " + std::to_string(size) +
                                         ", over msize " + std::to_string(msize));
  return size;
}

std::uint16_t peek_tag(std::string_view bytes) {
  if (bytes.size() < header_size) return notag;
  return std::uint16_t(static_cast<unsigned char>(bytes[5]) |
                       (static_cast<unsigned char>(bytes[6]) << 8));
}

mtype type_of(const tmessage& m) {
  if (auto* u = std::get_if<tunsupported>(&m)) return mtype(u->type);
  return t_codes[m.index()];
}
mtype type_of(const rmessage& m) { return r_codes[m.index()]; }
std::uint8_t type_code(const tmessage& m) { return std::uint8_t(type_of(m)); }

void encode_dirent(std::string& data, const dirent& d) {
  detail::writer w(data);
  io(w, const_cast<dirent&>(d));
}

std::size_t dirent_size(const dirent& d) { return 13 + 8 + 1 + 2 + d.name.size(); }

result<std::vector<dirent>> decode_dirents(std::string_view data) {
  std::vector<dirent> out;
  detail::reader r(data);
  while (r.left() > 0) {
    dirent d;
    io(r, d);
    if (r.failed()) return make_error(errc::invalid, "9p: Rreaddir: entry " +
                                                         std::to_string(out.size()) + " " +
                                                         r.problem());
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace circuit::wire
