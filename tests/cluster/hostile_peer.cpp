// hostile_peer — a peer that holds the cluster key, finishes the TLS
// handshake like a member, then misbehaves; for the integration tests of
// test_peers.py (issue 8: hostile peers), which Python's ssl module cannot
// play (it has no TLS 1.3 external PSK).
//
//   hostile_peer KEYFILE HOST:PORT BEHAVIOUR [ARG]
//
// It prints "from ADDRESS" (its own end, as the daemon's log names it)
// once the handshake is done, one line per 9P reply it reads ("Rversion
// 8192 unknown", "Rlerror 22", "tag 1"), and how the link ended: "closed by
// peer after N bytes" or "still open after S s". Behaviours:
//
//   garbage            bytes that are neither 'P' nor 'X'
//   p-garbage          'P', then a member name whose length is 4 GiB
//   over-msize         a 9P session, then a frame over the msize it agreed
//   truncated-close    a 9P session, half a Tattach, then it closes
//   truncated-stall    a 9P session, half a Tattach, then silence
//   unknown-type N     a 9P session, N frames of type 250, then Tversion
//   wrong-version V    Tversion V, then Tattach, then Tversion 9P2000.L
//   silent             nothing at all after the handshake
//   mute-seed          listens at HOST:PORT instead: takes members' links
//                      and what they send, and never answers (a seed that
//                      accepts a join and then says nothing); prints
//                      "listening", then "link from ADDRESS" and "ADDRESS
//                      closed after N bytes" per link
//
// It waits WAIT seconds (the environment's HOSTILE_WAIT, default 10) for the
// daemon to close the link. Exit status: 0 when the handshake was made, 1
// otherwise (the behaviour's outcome is in what it prints).
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "circuit/cluster/link.hpp"
#include "circuit/wire/codec.hpp"

namespace asio = boost::asio;
using namespace circuit;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t msize = 8192;

class peer {
 public:
  peer(cluster::link_context& ctx) : s_(io_, ctx.client()) {}

  // Connects and shakes hands; false, saying why, if either fails.
  bool dial(const std::string& host, const std::string& port) {
    error_code ec;
    asio::connect(s_.lowest_layer(), tcp::resolver(io_).resolve(host, port, ec), ec);
    if (!ec) s_.handshake(s_.client, ec);
    if (ec) {
      std::printf("handshake failed: %s\n", ec.message().c_str());
      return false;
    }
    auto me = s_.lowest_layer().local_endpoint();
    std::printf("from %s:%u\n", me.address().to_string().c_str(), me.port());
    return true;
  }

  void send(const std::string& bytes) {
    error_code ec;
    asio::write(s_, asio::buffer(bytes), ec);
    if (ec) std::printf("write: %s\n", ec.message().c_str());
  }

  // Up to `n` bytes, or fewer when the link ends or `wait` passes first
  // (then `ended` says which: "eof", an error, or "" for the time).
  std::string read(std::size_t n, std::chrono::duration<double> wait, std::string& ended) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait);
    char buf[4096];
    ended.clear();
    while (got.size() < n && ended.empty()) {
      bool done = false;
      s_.async_read_some(asio::buffer(buf, std::min(sizeof buf, n - got.size())), [&](error_code ec, std::size_t k) {
        done = true;
        got.append(buf, k);
        if (ec) ended = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ? "eof" : ec.message();
      });
      io_.restart();
      io_.run_until(deadline);
      if (done) continue;
      error_code ignored;
      s_.lowest_layer().cancel(ignored);  // the time is up
      io_.restart();
      io_.run();
      break;
    }
    return got;
  }

  // One 9P reply, printed; false when the link ended or time ran out.
  bool reply(std::chrono::duration<double> wait) {
    std::string ended;
    std::string head = read(4, wait, ended);
    if (head.size() < 4) return watched(head.size(), ended, wait);
    std::uint32_t size = 0;
    for (int i = 3; i >= 0; --i) size = size << 8 | static_cast<unsigned char>(head[i]);
    std::string rest = read(size > 4 ? size - 4 : 0, wait, ended);
    auto f = wire::decode_r(head + rest, msize);
    if (!f) {
      std::printf("undecodable reply: %s\n", f.err().message.c_str());
      return false;
    }
    std::printf("tag %u: ", f->tag);
    if (auto* v = std::get_if<wire::rversion>(&f->message))
      std::printf("Rversion %u %s\n", v->msize, v->version.c_str());
    else if (auto* e = std::get_if<wire::rlerror>(&f->message))
      std::printf("Rlerror %u\n", e->ecode);
    else
      std::printf("%s\n", std::string(wire::mtype_name(std::uint8_t(wire::type_of(f->message)))).c_str());
    return true;
  }

  // Reads until the daemon closes the link or `wait` passes, and says which.
  void watch(std::chrono::duration<double> wait) {
    std::string ended;
    std::size_t n = read(SIZE_MAX, wait, ended).size();
    watched(n, ended, wait);
  }

  void close() {
    error_code ignored;
    s_.lowest_layer().close(ignored);
  }

 private:
  static bool watched(std::size_t n, const std::string& ended, std::chrono::duration<double> wait) {
    if (ended.empty())
      std::printf("still open after %g s\n", wait.count());
    else
      std::printf("closed by peer after %zu bytes (%s)\n", n, ended.c_str());
    std::fflush(stdout);
    return false;
  }

  asio::io_context io_;
  asio::ssl::stream<tcp::socket> s_;
};

std::string framed_name(const std::string& name) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(name.size() >> (24 - 8 * i));
  return "P" + out + name;
}

// The dialing member's name and a Tversion for `version`.
std::string session(const std::string& version) {
  return framed_name("hostile") + wire::encode(wire::notag, wire::tversion{msize, version});
}

std::string tattach() {
  return wire::encode(1, wire::tattach{0, wire::nofid, "root", "", 0});
}

// A frame header: `size` (which counts itself), `type`, tag 1.
std::string header(std::uint32_t size, std::uint8_t type) {
  std::string h;
  for (int i = 0; i < 4; ++i) h += static_cast<char>(size >> (8 * i));
  return h + static_cast<char>(type) + std::string("\1\0", 2);
}

// A 9P session begun, then the first half of a Tattach.
void half_an_attach(peer& p, double wait) {
  p.send(session("9P2000.L"));
  p.reply(std::chrono::duration<double>(wait));
  std::string a = tattach();
  p.send(a.substr(0, a.size() / 2));
}

using behaviour = std::function<void(peer&, const std::string& arg, double wait)>;

const std::map<std::string, behaviour> behaviours = {
    {"garbage",
     [](peer& p, const std::string&, double wait) {
       p.send("GARBAGE, NOT A REQUEST\r\n" + std::string(200, '\xee'));
       p.watch(std::chrono::duration<double>(wait));
     }},
    {"p-garbage",
     [](peer& p, const std::string&, double wait) {
       p.send("P\xff\xff\xff\xff" + std::string(200, '\xee'));
       p.watch(std::chrono::duration<double>(wait));
     }},
    {"over-msize",
     [](peer& p, const std::string&, double wait) {
       p.send(session("9P2000.L"));
       p.reply(std::chrono::duration<double>(wait));
       p.send(header(msize + 1, std::uint8_t(wire::mtype::twrite)) + std::string(64, 'x'));
       p.watch(std::chrono::duration<double>(wait));
     }},
    {"truncated-close",
     [](peer& p, const std::string&, double wait) {
       half_an_attach(p, wait);
       p.close();
       std::printf("closed with half a Tattach sent\n");
     }},
    {"truncated-stall",
     [](peer& p, const std::string&, double wait) {
       half_an_attach(p, wait);
       p.watch(std::chrono::duration<double>(wait));
     }},
    {"unknown-type",
     [](peer& p, const std::string& arg, double wait) {
       p.send(session("9P2000.L"));
       p.reply(std::chrono::duration<double>(wait));
       int n = arg.empty() ? 1 : std::atoi(arg.c_str());
       std::string frames;
       for (int i = 0; i < n; ++i) frames += header(wire::header_size, 250);
       p.send(frames);
       for (int i = 0; i < n; ++i)
         if (!p.reply(std::chrono::duration<double>(wait))) return;
       p.send(wire::encode(wire::notag, wire::tversion{msize, "9P2000.L"}));  // still served?
       if (p.reply(std::chrono::duration<double>(wait))) std::printf("served on\n");
     }},
    {"wrong-version",
     [](peer& p, const std::string& arg, double wait) {
       p.send(session(arg));
       if (!p.reply(std::chrono::duration<double>(wait))) return;
       p.send(tattach());
       if (!p.reply(std::chrono::duration<double>(wait))) return;
       p.send(wire::encode(wire::notag, wire::tversion{msize, "9P2000.L"}));
       if (p.reply(std::chrono::duration<double>(wait))) std::printf("served on\n");
     }},
    {"silent", [](peer& p, const std::string&, double wait) { p.watch(std::chrono::duration<double>(wait)); }},
};

// Listens at `host`:`port` for WAIT seconds; reads every link, answers none.
int mute_seed(cluster::link_context& ctx, const std::string& host, const std::string& port,
              double wait) {
  asio::io_context io;
  error_code ec;
  auto at = tcp::resolver(io).resolve(host, port, ec);
  if (ec || at.empty()) {
    std::fprintf(stderr, "hostile_peer: %s:%s: %s\n", host.c_str(), port.c_str(),
                 ec.message().c_str());
    return 2;
  }
  tcp::acceptor acceptor(io, at.begin()->endpoint());
  std::printf("listening\n");
  struct held {
    std::shared_ptr<cluster::peer_link> link;
    std::string peer;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
  };
  std::function<void(std::shared_ptr<held>)> drain = [&drain](std::shared_ptr<held> h) {
    h->link->async_read_some(asio::buffer(h->buf), [&drain, h](error_code ec, std::size_t k) {
      h->n += k;
      if (!ec) return drain(h);
      std::printf("%s closed after %zu bytes\n", h->peer.c_str(), h->n);
    });
  };
  cluster::accept_links(acceptor, ctx, {}, [&drain](auto l, std::string peer) {
    if (!l) return (void)std::printf("refused %s: %s\n", peer.c_str(), l.err().message.c_str());
    std::printf("link from %s\n", peer.c_str());
    drain(std::make_shared<held>(held{*l, peer}));
  });
  io.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(wait)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto b = argc >= 4 ? behaviours.find(argv[3]) : behaviours.end();
  bool seed = argc >= 4 && std::string(argv[3]) == "mute-seed";
  std::string address = argc >= 3 ? argv[2] : "";
  auto colon = address.rfind(':');
  if ((b == behaviours.end() && !seed) || colon == std::string::npos) {
    std::fprintf(stderr, "usage: hostile_peer KEYFILE HOST:PORT BEHAVIOUR [ARG]; behaviours:");
    for (auto& [name, _] : behaviours) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, " mute-seed\n");
    return 2;
  }
  auto key = cluster::load_key(argv[1]);
  if (!key) {
    std::fprintf(stderr, "hostile_peer: %s\n", key.err().message.c_str());
    return 2;
  }
  const char* w = std::getenv("HOSTILE_WAIT");
  double wait = w ? std::atof(w) : 10;
  cluster::link_context ctx(*key);
  if (seed) return mute_seed(ctx, address.substr(0, colon), address.substr(colon + 1), wait);
  peer p(ctx);
  if (!p.dial(address.substr(0, colon), address.substr(colon + 1))) return 1;
  b->second(p, argc >= 5 ? argv[4] : "", wait);
  return 0;
}
