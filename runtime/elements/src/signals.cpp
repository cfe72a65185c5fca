#include "signals.hpp"

#include <csignal>

#include "circuit/core/ctl.hpp"

namespace circuit {
namespace {

struct row {
  const char* name;
  int sig;
};

const row table[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"BUS", SIGBUS},       {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},     {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

}  // namespace

result<int> parse_signal(std::string_view text) {
  auto words = split_words(text);
  if (words.size() != 1)
    return make_error(errc::invalid, "signal: write one signal name or number, like TERM or 9");
  std::string w(words[0]);
  if (w[0] >= '0' && w[0] <= '9') {
    auto n = parse_count("signal", w, 64);
    if (!n) return n.err();
    if (*n == 0) return make_error(errc::invalid, "signal: 0 is not a signal");
    return static_cast<int>(*n);
  }
  for (auto& c : w) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (w.rfind("SIG", 0) == 0) w = w.substr(3);
  for (const auto& r : table)
    if (w == r.name) return r.sig;
  return make_error(errc::invalid, "signal: unknown signal " + quote(words[0]));
}

std::string signal_name(int sig) {
  for (const auto& r : table)
    if (r.sig == sig) return r.name;
  return std::to_string(sig);
}

}  // namespace circuit
