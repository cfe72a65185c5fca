// Unit tests of runtime/src/signals.cpp.
#include "signals.hpp"

#include <catch2/catch.hpp>
#include <csignal>

using namespace circuit;

TEST_CASE("signals parse from names, SIG-names, any case, and numbers") {
  CHECK(parse_signal("TERM\n").value() == SIGTERM);
  CHECK(parse_signal("SIGKILL").value() == SIGKILL);
  CHECK(parse_signal("usr1").value() == SIGUSR1);
  CHECK(parse_signal("9").value() == 9);
  CHECK(parse_signal("nope").err().code == errc::invalid);
  CHECK(parse_signal("0").err().code == errc::invalid);
  CHECK(parse_signal("65").err().code == errc::out_of_range);
  CHECK(parse_signal("TERM KILL").err().code == errc::invalid);
  CHECK(signal_name(SIGSEGV) == "SEGV");
}
