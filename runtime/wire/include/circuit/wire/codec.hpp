// codec.hpp — 9P2000.L frames to bytes and back.
//
// A frame on the wire is size[4] type[1] tag[2] body, little-endian, where
// size counts the whole frame. encode() writes one whole frame; decode_t()
// and decode_r() read exactly one whole frame, as cut from a stream with
// next_frame_size():
//
//   std::string buf;  // bytes read so far from the connection
//   for (;;) {
//     auto n = next_frame_size(buf, msize);
//     if (!n) return fail(n.err());            // a lie: drop the connection
//     if (*n == 0 || buf.size() < *n) break;   // read more
//     auto f = decode_t(std::string_view(buf).substr(0, *n), msize);
//     buf.erase(0, *n);
//     if (!f) ... answer Rlerror(EINVAL) to f's tag if it had one, or drop
//     else serve(f->tag, f->message);
//   }
//
// The decoder trusts nothing: a frame that is short, long, cut in a string
// or a count, carries bytes after its last field, is over msize, has a type
// it does not know or walks more than max_walk names is refused with
// errc::invalid and a message saying what was wrong ("9p: ..."). It never
// reads outside the bytes it is given. T-types of 9P2000, .u and .L that
// circuit does not serve decode as `tunsupported`.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "circuit/core/error.hpp"
#include "circuit/wire/messages.hpp"

namespace circuit::wire {

template <class M>
struct frame {
  std::uint16_t tag = notag;
  M message;
};

// The whole frame for `m` under `tag`. The caller keeps it under the
// negotiated msize (a Twrite or Rread carries at most msize - overhead).
std::string encode(std::uint16_t tag, const tmessage& m);
std::string encode(std::uint16_t tag, const rmessage& m);
// The same, appended to `out` (to batch several frames in one write).
void encode_to(std::string& out, std::uint16_t tag, const tmessage& m);
void encode_to(std::string& out, std::uint16_t tag, const rmessage& m);

// One frame, exactly `bytes` long (trailing bytes are an error).
result<frame<tmessage>> decode_t(std::string_view bytes, std::uint32_t msize);
result<frame<rmessage>> decode_r(std::string_view bytes, std::uint32_t msize);

// The full length of the frame at the start of `buffer`, or 0 while fewer
// than 4 bytes are there to tell. A size under header_size or over msize
// is an error: the stream cannot be trusted past it.
result<std::uint32_t> next_frame_size(std::string_view buffer, std::uint32_t msize);

// The tag of a frame whose header is whole (at least header_size bytes), so
// a server can answer Rlerror to a frame it could not decode. notag if the
// header is cut.
std::uint16_t peek_tag(std::string_view bytes);

// True for the type code of any valid T-message of 9P2000, 9P2000.u or
// 9P2000.L (circuit's own and the ones it refuses).
bool is_known_tmessage(std::uint8_t type);

// The type code a message is sent with.
mtype type_of(const tmessage& m);
mtype type_of(const rmessage& m);
// tunsupported carries its own code; this is it for every message.
std::uint8_t type_code(const tmessage& m);

// Rreaddir data: encode_dirent appends one entry to `data`;
// dirent_size says how many bytes it takes (to fill a count exactly).
// decode_dirents refuses data that is cut in an entry.
void encode_dirent(std::string& data, const dirent& d);
std::size_t dirent_size(const dirent& d);
result<std::vector<dirent>> decode_dirents(std::string_view data);

}  // namespace circuit::wire
