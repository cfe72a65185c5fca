#include "exchange.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>

namespace circuit::fsd::exchange {
namespace {

namespace asio = boost::asio;
using link_ptr = std::shared_ptr<cluster::peer_link>;

}  // namespace

std::string framed(const std::string& body) {
  std::string out(4, '\0');
  auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (24 - 8 * i));
  return out + body;
}

namespace {
// Reads one framed message: `done` gets it, or an error. With an `idle`
// time, a wait that long for the next byte closes the link.
struct reader : std::enable_shared_from_this<reader> {
  link_ptr link;
  std::function<void(result<std::string>)> done;
  std::string got;
  std::size_t want = 4;
  std::size_t max = max_message;
  bool header = true;
  std::array<char, 16384> buf{};
  std::chrono::steady_clock::duration idle{};
  std::unique_ptr<asio::steady_timer> timer;
  bool silent = false;  // the timer closed the link

  void watch() {
    if (idle <= idle.zero()) return;
    if (!timer) timer = std::make_unique<asio::steady_timer>(link->get_executor());
    timer->expires_after(idle);  // cancels the wait before
    std::weak_ptr<reader> weak = shared_from_this();
    timer->async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->silent = true;
      self->link->close();
    });
  }

  std::string no_answer() const {
    char s[32];
    std::snprintf(s, sizeof s, "%g", std::chrono::duration<double>(idle).count());
    return std::string("exchange: no answer within ") + s + " s";
  }

  void next() {
    auto self = shared_from_this();
    watch();
    link->async_read_some(asio::buffer(buf.data(), std::min(buf.size(), want - got.size())),
                          [self](boost::system::error_code ec, std::size_t n) {
                            if (self->timer) self->timer->cancel();
                            if (ec)
                              return self->done(make_error(
                                  errc::host_unreachable,
                                  self->silent ? self->no_answer() : "exchange: " + ec.message()));
                            self->got.append(self->buf.data(), n);
                            if (self->got.size() < self->want) return self->next();
                            if (!self->header) return self->done(std::move(self->got));
                            std::size_t size = 0;
                            for (int i = 0; i < 4; ++i)
                              size = size << 8 | static_cast<unsigned char>(self->got[i]);
                            if (size > self->max)
                              return self->done(make_error(errc::invalid, "exchange: a message of " + std::to_string(size) +
                                                                              " bytes, over " + std::to_string(self->max)));
                            self->header = false;
                            self->got.clear();
                            self->want = size;
                            if (size == 0) return self->done(std::string());
                            self->next();
                          });
  }
};

}  // namespace

void read_message(link_ptr link, std::size_t max, std::function<void(result<std::string>)> done,
                  std::chrono::steady_clock::duration idle) {
  auto r = std::make_shared<reader>();
  r->link = std::move(link);
  r->max = max;
  r->idle = idle;
  r->done = std::move(done);
  r->next();
}

namespace {
void write_message(link_ptr link, const std::string& body, std::function<void(bool)> done) {
  auto bytes = std::make_shared<std::string>(framed(body));
  link->async_write(asio::buffer(*bytes), [bytes, done](boost::system::error_code ec, std::size_t) { done(!ec); });
}

}  // namespace

void serve(link_ptr link, std::function<std::string(std::string)> answer) {
  read_message(link, max_message, [link, answer](result<std::string> req) {
    if (!req) return link->close();
    write_message(link, answer(std::move(*req)), [link](bool) { link->close(); });
  });
}

void ask(asio::any_io_executor ex, std::string address, cluster::link_context& ctx, cluster::link_options opts,
         std::string request, std::function<void(result<std::string>)> reply) {
  cluster::dial_link(
      ex, address, ctx, opts,
      [request = std::move(request), reply = std::move(reply),
       idle = opts.deadline](result<link_ptr> l) mutable {
        if (!l) return reply(l.err());
        auto link = *l;
        auto bytes = std::make_shared<std::string>(std::string(1, exchange_byte) + framed(request));
        link->async_write(asio::buffer(*bytes), [link, bytes, reply, idle](
                                                    boost::system::error_code ec, std::size_t) {
          if (ec) {
            link->close();
            return reply(make_error(errc::host_unreachable, "exchange: " + ec.message()));
          }
          read_message(
              link, max_message,
              [link, reply](result<std::string> r) {
                link->close();
                reply(std::move(r));
              },
              idle);
        });
      });
}

}  // namespace circuit::fsd::exchange
