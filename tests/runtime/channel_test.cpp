// Unit tests of runtime/src/channel.cpp through the namespace core.
#include "channel.hpp"

#include "circuit/core/completions.hpp"

#include "fixture.hpp"

using namespace circuit;
using circuit::test::space;

TEST_CASE("a buffered channel keeps messages in order until received") {
  space s;
  auto c = s.mkchan("a", 3);
  REQUIRE(s.send(c, "one").ok());
  REQUIRE(s.send(c, "two").ok());
  REQUIRE(s.send(c, "three").ok());
  CHECK(s.text(c + "/stat").find("\"len\":3") != std::string::npos);
  CHECK(s.recv(c) == "one");
  CHECK(s.recv(c) == "two");
  CHECK(s.recv(c) == "three");
}

TEST_CASE("on an unbuffered channel a send parks until a receiver comes") {
  space s;
  auto c = s.mkchan("a");
  auto snd = s.open(c + "/send", O_WRONLY);
  CHECK_FALSE(snd->result);
  auto rcv = s.open(c + "/recv", O_RDONLY);
  REQUIRE(snd->result);  // the receiver made a place
  CHECK_FALSE(rcv->result);
  open_file* f = snd->result->value();
  REQUIRE(s.write(f, 0, "hi").ok());
  REQUIRE(s.n.flush(*f, s.who).ok());
  s.n.release(f);
  REQUIRE(rcv->result);
  CHECK(s.read_all(rcv->result->value()) == "hi");
  s.n.release(rcv->result->value());
}

TEST_CASE("a cancelled receive completes once with interrupted and leaves no waiter") {
  space s;
  auto c = s.mkchan("a");
  auto rcv = s.open(c + "/recv", O_RDONLY);
  CHECK(s.text(c + "/stat").find("\"receivers_waiting\":1") != std::string::npos);
  int before = s.completions;
  rcv->op->cancel(make_error(errc::interrupted, "interrupted"));
  rcv->op->cancel(make_error(errc::interrupted, "again"));
  REQUIRE(rcv->result);
  CHECK(rcv->result->err().code == errc::interrupted);
  CHECK(s.completions == before + 1);
  CHECK(s.text(c + "/stat").find("\"receivers_waiting\":0") != std::string::npos);
  // The sender now finds no place on a cap 0 channel.
  auto t = s.open(c + "/trysend", O_WRONLY);
  REQUIRE(t->result);
  CHECK(t->result->err().code == errc::would_block);
}

TEST_CASE("a receiver that releases before reading everything puts the message back at its place") {
  space s;
  auto c = s.mkchan("a", 2);
  REQUIRE(s.send(c, "first").ok());
  REQUIRE(s.send(c, "second").ok());
  auto rcv = s.open(c + "/recv", O_RDONLY);
  REQUIRE(rcv->result);
  s.n.release(rcv->result->value());
  CHECK(s.recv(c) == "first");
  CHECK(s.recv(c) == "second");
  CHECK(s.text(c + "/stat").find("\"received\":2") != std::string::npos);
}

TEST_CASE("a receiver parked on a cap 0 channel that is cancelled after a sender reserved loses nothing") {
  space s;
  auto c = s.mkchan("a");
  auto rcv = s.open(c + "/recv", O_RDONLY);
  auto snd = s.open(c + "/send", O_WRONLY);
  REQUIRE(snd->result);
  rcv->op->cancel(make_error(errc::interrupted, "interrupted"));
  open_file* f = snd->result->value();
  REQUIRE(s.write(f, 0, "kept").ok());
  REQUIRE(s.n.flush(*f, s.who).ok());
  s.n.release(f);
  CHECK(s.recv(c) == "kept");
}

TEST_CASE("close fails parked senders, drains the buffer, then fails receivers") {
  space s;
  auto c = s.mkchan("a", 1);
  REQUIRE(s.send(c, "x").ok());
  auto parked = s.open(c + "/send", O_WRONLY);
  CHECK_FALSE(parked->result);
  REQUIRE(s.put(c + "/close", "close\n").ok());
  REQUIRE(parked->result);
  CHECK(parked->result->err().code == errc::closed);
  CHECK(s.recv(c) == "x");
  auto r = s.open(c + "/recv", O_RDONLY);
  REQUIRE(r->result);
  CHECK(r->result->err().code == errc::closed);
  CHECK(s.send(c, "y").err().code == errc::closed);
}

TEST_CASE("cap is set once, before first use, from a plain number") {
  space s;
  auto c = s.mkchan("a");
  CHECK(s.put(c + "/cap", "abc").err().code == errc::invalid);
  CHECK(s.put(c + "/cap", "-1").err().code == errc::invalid);
  CHECK(s.put(c + "/cap", "99999999999999999999").err().code == errc::out_of_range);
  CHECK(s.put(c + "/cap", "1048577").err().code == errc::out_of_range);
  CHECK(s.put(c + "/cap", "").err().code == errc::invalid);
  REQUIRE(s.put(c + "/cap", "5\n").ok());
  auto again = s.put(c + "/cap", "6");
  CHECK(again.err().code == errc::busy);
  CHECK(again.err().message.find("cap is set once") != std::string::npos);
  CHECK(s.text(c + "/cap") == "5\n");
}

TEST_CASE("a message over the limit is refused at the write and nothing is delivered") {
  space s;
  s.n.cfg().max_message = 10;
  auto c = s.mkchan("a", 1);
  auto o = s.open(c + "/send", O_WRONLY);
  REQUIRE(o->result);
  open_file* f = o->result->value();
  REQUIRE(s.write(f, 0, "12345").ok());
  auto w = s.write(f, 5, "678901");
  CHECK(w.err().code == errc::too_big);
  CHECK(s.n.flush(*f, s.who).err().code == errc::too_big);
  s.n.release(f);
  CHECK(s.text(c + "/stat").find("\"len\":0,") != std::string::npos);
  CHECK(s.text(c + "/stat").find("\"reserved\":0,") != std::string::npos);
  REQUIRE(s.send(c, "0123456789").ok());
}

TEST_CASE("removing a channel completes its parked openers with removed") {
  space s;
  auto c = s.mkchan("a");
  auto rcv = s.open(c + "/recv", O_RDONLY);
  auto snd = s.open(c + "/recv", O_RDONLY);
  REQUIRE(s.n.rmdir(s.who, s.walk("/h1/channels"), "a").ok());
  REQUIRE(rcv->result);
  CHECK(rcv->result->err().code == errc::removed);
  REQUIRE(snd->result);
  CHECK(s.n.lookup(s.who, s.walk("/h1/channels"), "a").err().code == errc::not_found);
}

TEST_CASE("the error file keeps the last error per session and directory") {
  space s;
  auto c = s.mkchan("a");
  CHECK(s.put(c + "/cap", "abc").err().code == errc::invalid);
  CHECK(s.text(c + "/error") == "cap: \"abc\" is not a number\n");
  CHECK(s.text("/h1/error").empty());
}

TEST_CASE("names are checked") {
  CHECK(check_name("x", "ok-name_1.2").ok());
  CHECK_FALSE(check_name("x", "").ok());
  CHECK_FALSE(check_name("x", "..").ok());
  CHECK_FALSE(check_name("x", std::string(65, 'a')).ok());
  CHECK(check_name("x", std::string(64, 'a')).ok());
  CHECK_FALSE(check_name("x", "a b").ok());
  CHECK_FALSE(check_name("x", "tab\there").ok());
  CHECK(check_name("x", "new\nline").err().message.find("\\x0a") != std::string::npos);
}

namespace {
// An open of send that completed at once.
open_file* open_send(space& s, const std::string& chan) {
  auto o = s.open(chan + "/send", O_WRONLY);
  REQUIRE(o->result);
  REQUIRE(o->result->ok());
  return o->result->value();
}

std::string stat_field(space& s, const std::string& chan, const std::string& field) {
  std::string t = s.text(chan + "/stat");
  auto at = t.find("\"" + field + "\":");
  REQUIRE(at != std::string::npos);
  at += field.size() + 3;
  return t.substr(at, t.find_first_of(",}", at) - at);
}
}  // namespace

TEST_CASE("a message is everything written through one open, delivered at its release, not at a flush") {
  space s;
  auto c = s.mkchan("a", 1);
  open_file* f = open_send(s, c);
  REQUIRE(s.write(f, 0, "a\n").ok());
  REQUIRE(s.n.flush(*f, s.who).ok());  // a dup closed
  REQUIRE(s.write(f, 2, "b\n").ok());
  REQUIRE(s.n.flush(*f, s.who).ok());
  CHECK(stat_field(s, c, "sent") == "0");
  s.n.release(f);
  CHECK(stat_field(s, c, "sent") == "1");
  CHECK(s.recv(c) == "a\nb\n");
}

TEST_CASE("an aborted send delivers nothing, frees its place, and refuses later writes") {
  space s;
  auto c = s.mkchan("a");
  auto rcv = s.open(c + "/recv", O_RDONLY);
  open_file* f = open_send(s, c);
  REQUIRE(s.write(f, 0, "half").ok());
  s.n.abort(*f, s.who);
  CHECK(stat_field(s, c, "reserved") == "0");
  CHECK(s.write(f, 4, "more").err().code == errc::bad_state);
  s.n.release(f);
  CHECK_FALSE(rcv->result);  // the receiver still waits
  CHECK(stat_field(s, c, "sent") == "0");
  CHECK(s.n.memory().used() == 0);
  rcv->op->cancel(make_error(errc::interrupted, "interrupted"));
}

TEST_CASE("fsync delivers at once and returns the verdict; later writes fail and release delivers nothing") {
  space s;
  auto c = s.mkchan("a", 2);
  open_file* f = open_send(s, c);
  REQUIRE(s.write(f, 0, "now").ok());
  REQUIRE(s.n.fsync(*f, s.who).ok());
  CHECK(stat_field(s, c, "len") == "1");
  auto w = s.write(f, 3, "late");
  CHECK(w.err().code == errc::bad_state);
  CHECK(w.err().message.find("delivered by fsync") != std::string::npos);
  CHECK(s.n.fsync(*f, s.who).ok());
  s.n.release(f);
  CHECK(stat_field(s, c, "sent") == "1");
  CHECK(s.recv(c) == "now");

  open_file* g = open_send(s, c);
  REQUIRE(s.write(g, 0, "gone").ok());
  REQUIRE(s.n.rmdir(s.who, s.walk("/h1/channels"), "a").ok());
  CHECK(s.n.fsync(*g, s.who).err().code == errc::removed);
  s.n.release(g);
}

TEST_CASE("messages put back by receivers keep their place in the order") {
  space s;
  auto c = s.mkchan("a", 3);
  for (auto m : {"A", "B", "C"}) REQUIRE(s.send(c, m).ok());
  auto ra = s.open(c + "/recv", O_RDONLY);
  auto rb = s.open(c + "/recv", O_RDONLY);
  REQUIRE(ra->result);
  REQUIRE(rb->result);
  CHECK(stat_field(s, c, "held") == "2");
  s.n.release(ra->result->value());
  s.n.release(rb->result->value());
  CHECK(s.recv(c) == "A");
  CHECK(s.recv(c) == "B");
  CHECK(s.recv(c) == "C");
}

TEST_CASE("a closed channel does not end while a receiver holds a message") {
  space s;
  auto c = s.mkchan("a", 1);
  REQUIRE(s.send(c, "last").ok());
  REQUIRE(s.put(c + "/close", "close").ok());
  auto holder = s.open(c + "/recv", O_RDONLY);
  REQUIRE(holder->result);
  auto t = s.open(c + "/tryrecv", O_RDONLY);
  REQUIRE(t->result);
  CHECK(t->result->err().code == errc::would_block);
  auto waiter = s.open(c + "/recv", O_RDONLY);
  CHECK_FALSE(waiter->result);
  s.n.release(holder->result->value());  // puts it back
  REQUIRE(waiter->result);
  REQUIRE(waiter->result->ok());
  CHECK(s.read_all(waiter->result->value()) == "last");
  s.n.release(waiter->result->value());
  auto end = s.open(c + "/recv", O_RDONLY);
  REQUIRE(end->result);
  CHECK(end->result->err().code == errc::closed);
}

TEST_CASE("a try-receive on cap 0 meets a parked sender, and gives up when that sender goes") {
  space s;
  auto c = s.mkchan("a");
  auto snd = s.open(c + "/send", O_WRONLY);
  CHECK_FALSE(snd->result);
  auto t = s.open(c + "/tryrecv", O_RDONLY);
  REQUIRE(snd->result);  // the try-receiver gave it a place
  CHECK_FALSE(t->result);
  open_file* f = snd->result->value();
  REQUIRE(s.write(f, 0, "met").ok());
  s.n.release(f);
  REQUIRE(t->result);
  REQUIRE(t->result->ok());
  CHECK(s.read_all(t->result->value()) == "met");
  s.n.release(t->result->value());

  auto snd2 = s.open(c + "/send", O_WRONLY);
  auto t2 = s.open(c + "/recv", O_RDONLY | O_NONBLOCK);
  REQUIRE(snd2->result);
  CHECK_FALSE(t2->result);
  s.n.abort(*snd2->result->value(), s.who);
  REQUIRE(t2->result);
  CHECK(t2->result->err().code == errc::would_block);
  s.n.release(snd2->result->value());
  CHECK(stat_field(s, c, "receivers_waiting") == "0");
}

TEST_CASE("message bytes are taken from the budget as written and given back when consumed") {
  space s;
  auto c = s.mkchan("a", 2);
  open_file* f = open_send(s, c);
  REQUIRE(s.write(f, 0, std::string(1000, 'x')).ok());
  CHECK(s.n.memory().used() >= 1000);
  s.n.release(f);
  CHECK(s.n.memory().used() >= 1000);  // buffered messages keep them
  auto r = s.open(c + "/recv", O_RDONLY);
  REQUIRE(r->result);
  CHECK(s.read_all(r->result->value()).size() == 1000);
  CHECK(s.n.memory().used() == 0);
  s.n.release(r->result->value());
  CHECK(s.n.memory().used() == 0);
}

TEST_CASE("a send over the budget fails with no_memory at the write, then at the open while it is spent") {
  space s;
  s.n.memory().set_limit(10);
  auto c = s.mkchan("a", 2);
  open_file* f = open_send(s, c);
  auto w = s.write(f, 0, "01234567890");
  CHECK(w.err().code == errc::no_memory);
  CHECK(w.err().message.find("--max-memory") != std::string::npos);
  s.n.release(f);
  CHECK(stat_field(s, c, "sent") == "0");
  CHECK(s.n.memory().used() == 0);
  REQUIRE(s.send(c, "0123456789").ok());
  CHECK(s.n.memory().used() == 10);
  auto o = s.open(c + "/send", O_WRONLY);
  REQUIRE(o->result);
  CHECK(o->result->err().code == errc::no_memory);
  CHECK(s.text(c + "/error").find("memory for messages is spent") != std::string::npos);
  CHECK(s.recv(c) == "0123456789");
  REQUIRE(s.send(c, "again").ok());
  REQUIRE(s.n.rmdir(s.who, s.walk("/h1/channels"), "a").ok());
  CHECK(s.n.memory().used() == 0);  // removal gives the buffered bytes back
}

TEST_CASE("a receive whose message is ready just as it is cancelled gets it, and dropping it puts it back at its place") {
  space s;
  auto c = s.mkchan("a", 1);
  auto rcv = s.open(c + "/recv", O_RDONLY);
  auto snd = s.open(c + "/send", O_WRONLY);
  REQUIRE(snd->result);
  open_file* f = snd->result->value();
  REQUIRE(s.write(f, 0, "first").ok());
  {
    completions step;  // holds the completions, as a state change does
    s.n.release(f);    // delivered to the parked receiver: decided, not yet completed
    CHECK_FALSE(rcv->result);
    rcv->op->cancel(make_error(errc::interrupted, "interrupted"));  // comes just now
    CHECK_FALSE(rcv->result);
  }
  // Reported, not lost: the open completed with the message.
  REQUIRE(rcv->result);
  REQUIRE(rcv->result->ok());
  REQUIRE(s.send(c, "second").ok());
  // The requester had cancelled: it drops what came (a face whose caller
  // is gone), and the message goes back before the later one.
  s.n.abandon(rcv->result->value());
  CHECK(s.recv(c) == "first");
  CHECK(s.recv(c) == "second");
  CHECK(s.text(c + "/stat").find("\"held\":0") != std::string::npos);
}

TEST_CASE("a parked receiver's completion that opens recv again parks, and takes the next message") {
  space s;
  auto c = s.mkchan("a", 2);
  std::shared_ptr<circuit::test::space::pending_open> second;
  std::optional<result<open_file*>> first;
  auto o = make_op<open_file*>([&](result<open_file*> r) {
    first.emplace(std::move(r));
    second = s.open(c + "/recv", O_RDONLY);  // re-enters the channel from its completion
  });
  s.n.open(s.walk(c + "/recv"), open_args{s.who, O_RDONLY}, o);
  REQUIRE(s.send(c, "one").ok());
  REQUIRE(first);
  REQUIRE(first->ok());
  REQUIRE(second);
  CHECK_FALSE(second->result);  // parked, not handed the same message
  REQUIRE(s.send(c, "two").ok());
  REQUIRE(second->result);
  CHECK(s.read_all(first->value()) == "one");
  CHECK(s.read_all(second->result->value()) == "two");
  s.n.release(first->value());
  s.n.release(second->result->value());
}
