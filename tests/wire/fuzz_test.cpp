// wire_fuzz_test — a mutation test of the 9P2000.L decoder.
//
// Takes a valid frame of every message type, damages it (bit flips, cuts,
// size fields that lie, random bytes, splices of two frames, inserted and
// dropped bytes, counts set to extremes) and feeds each damaged frame to
// decode_t, decode_r and next_frame_size. The decoder must not crash or
// read outside the frame (each frame sits in a heap block of its exact
// size, so AddressSanitizer sees an over-read), must refuse with
// errc::invalid and a "9p: " message, and whatever it accepts must encode
// back to the very same bytes. The seed is fixed: every run feeds the same
// frames. Prints how many it fed and how long it took.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "circuit/wire/codec.hpp"
#include "samples.hpp"

using namespace circuit;
using namespace circuit::wire;

namespace {

constexpr std::size_t rounds = 1'100'000;
constexpr std::uint32_t msizes[] = {max_msize, 8192, 64};

struct fuzzer {
  std::mt19937_64 rng{0x9b2000c1u};
  std::vector<std::string> valid;
  std::size_t accepted = 0, refused = 0, failures = 0;

  std::size_t below(std::size_t n) { return n == 0 ? 0 : rng() % n; }
  const std::string& any_valid() { return valid[below(valid.size())]; }

  static void set_size(std::string& f, std::uint32_t n) {
    if (f.size() < 4) return;
    for (int i = 0; i < 4; ++i) f[i] = char((n >> (8 * i)) & 0xff);
  }
  void honest(std::string& f) {
    if (below(4) != 0) set_size(f, std::uint32_t(f.size()));
  }

  // One damaged frame, by one of several kinds of damage.
  std::string damage() {
    std::string f = any_valid();
    switch (below(8)) {
      case 0:  // flip a few bits
        for (std::size_t n = 1 + below(4); n > 0; --n) f[below(f.size())] ^= char(1 << below(8));
        break;
      case 1:  // cut
        f.resize(below(f.size()));
        honest(f);
        break;
      case 2:  // a size field that lies
        set_size(f, below(2) ? std::uint32_t(rng()) : std::uint32_t(f.size() + below(9) - 4));
        break;
      case 3: {  // random bytes behind a plausible header
        f.assign(below(64), '\0');
        for (auto& c : f) c = char(rng());
        if (f.size() > 4 && below(2)) f[4] = any_valid()[4];
        honest(f);
        break;
      }
      case 4: {  // the head of one frame and the tail of another
        const std::string& g = any_valid();
        f = f.substr(0, below(f.size() + 1)) + g.substr(below(g.size() + 1));
        honest(f);
        break;
      }
      case 5:  // bytes inserted
        f.insert(below(f.size() + 1), std::string(1 + below(8), char(rng())));
        honest(f);
        break;
      case 6:  // bytes dropped
        if (!f.empty()) f.erase(below(f.size()), 1 + below(8));
        honest(f);
        break;
      case 7: {  // a count or length set to an extreme
        static const char extremes[] = {'\0', '\x01', '\x10', '\x11', '\x7f', '\x80', '\xff'};
        std::size_t at = 7 + below(f.size() > 7 ? f.size() - 7 : 1);
        for (std::size_t i = 0; i < 1 + below(4) && at + i < f.size(); ++i)
          f[at + i] = extremes[below(sizeof extremes)];
        break;
      }
    }
    return f;
  }

  template <class Frame>
  void judge(const result<Frame>& r, std::string_view bytes, const char* side) {
    if (!r.ok()) {
      ++refused;
      if (r.err().code != errc::invalid || r.err().message.rfind("9p: ", 0) != 0) fail(side, r.err().message);
      return;
    }
    ++accepted;
    if constexpr (std::is_same_v<Frame, frame<tmessage>>) {
      if (std::holds_alternative<tunsupported>(r->message)) return;  // body not read
    }
    if (encode(r->tag, r->message) != bytes) fail(side, "accepted a frame that does not encode back");
  }

  void fail(const char* side, const std::string& why) {
    if (++failures <= 10) std::fprintf(stderr, "wire_fuzz_test: %s: %s\n", side, why.c_str());
  }

  void feed(const std::string& f) {
    // An exact heap block: reading one byte past it is an ASan report.
    auto block = std::make_unique<char[]>(f.size() + (f.empty() ? 1 : 0));
    std::memcpy(block.get(), f.data(), f.size());
    std::string_view bytes(block.get(), f.size());
    std::uint32_t msize = msizes[below(3)];
    auto n = next_frame_size(bytes, msize);
    if (n.ok() && *n != 0 && *n > msize) fail("next_frame_size", "passed a size over msize");
    judge(decode_t(bytes, msize), bytes, "decode_t");
    judge(decode_r(bytes, msize), bytes, "decode_r");
    if (bytes.size() > header_size) (void)decode_dirents(bytes.substr(header_size));
  }
};

}  // namespace

int main() {
  auto start = std::chrono::steady_clock::now();
  fuzzer z;
  for (const auto& m : test::sample_tmessages()) z.valid.push_back(encode(7, m));
  for (const auto& m : test::sample_rmessages()) z.valid.push_back(encode(7, m));
  for (const auto& f : z.valid) z.feed(f);  // the undamaged ones first
  std::size_t fed = 0;
  for (; fed < rounds; ++fed) z.feed(z.damage());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wire_fuzz_test: %zu damaged frames fed to decode_t and decode_r in %.2f s: "
              "%zu decodes accepted, %zu refused, %zu failures\n",
              fed, secs, z.accepted, z.refused, z.failures);
  return z.failures == 0 ? 0 : 1;
}
