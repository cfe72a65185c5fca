// circuit — ls, cat, write, mkdir, rmdir and stat on circuit's files over
// its 9P socket, for hosts without FUSE (circuit(1)).
//
// The socket is $CIRCUIT_SOCKET, else /run/circuit/NAME.sock for the host
// of --name, $CIRCUIT_HOST or the hostname (circuitd's default name). A
// failure prints "circuit: VERB PATH: errno words", then the `error` text
// of the directory concerned, read on the same connection (the errors are
// kept per session, and a later run would be another one), and exits 1.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "circuit/core/dir.hpp"
#include "circuit/wire/conn.hpp"
#include "verbs.hpp"

namespace {

using namespace circuit;
using namespace circuit::cmd;

int usage(std::ostream& out, int status) {
  out << "usage: circuit [--name HOST] [--socket PATH] VERB PATH...\n\n";
  for (const cmd::verb* v = verbs; v->name; ++v)
    out << "  " << v->name << std::string(8 - std::strlen(v->name), ' ') << v->help << '\n';
  out << "\nPATH is a path of the namespace, such as /h1/channels/a/send.\n"
         "The socket is $CIRCUIT_SOCKET, else /run/circuit/HOST.sock, HOST being\n"
         "--name, $CIRCUIT_HOST or this host's name. See circuit(1).\n";
  return status;
}

// The words of an error: the errno's for a server's refusal, the
// message less its "9p: " for the client's own.
std::string words(const error& e) {
  if (e.message.rfind("9p: ", 0) == 0) return e.message.substr(4);
  return e.message;
}

// After a failure: the `error` file of the directory `path` is in (where
// the core records a refused open, read, write, close, mkdir or rmdir).
void print_error_file(conn& c, const std::string& path) {
  auto names = split_path(path);
  if (!names.empty()) names.pop_back();
  names.push_back("error");
  auto text = c.slurp(names);
  if (!text || text->empty()) return;
  while (!text->empty() && text->back() == '\n') text->pop_back();
  std::cerr << "circuit: " << *text << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  std::string host, socket;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(std::cout, 0);
    if ((a == "--name" || a == "--socket") && i + 1 < argc) {
      (a == "--name" ? host : socket) = argv[++i];
      continue;
    }
    std::cerr << "circuit: unknown option " << a << '\n';
    return usage(std::cerr, 2);
  }
  if (i < argc && std::string(argv[i]) == "help") return usage(std::cout, 0);
  if (argc - i < 2) return usage(std::cerr, 2);
  const cmd::verb* v = verbs;
  while (v->name && argv[i] != std::string(v->name)) ++v;
  if (!v->name) {
    std::cerr << "circuit: unknown verb " << argv[i] << '\n';
    return usage(std::cerr, 2);
  }
  if (!v->many && argc - i != 2) {
    std::cerr << "circuit: " << v->name << " takes one PATH\n";
    return usage(std::cerr, 2);
  }
  if (socket.empty()) socket = wire::default_socket(host);

  auto c = conn::open(socket);
  if (!c) {
    std::cerr << "circuit: " << words(c.err()) << '\n';
    return 1;
  }
  int status = 0;
  for (int p = i + 1; p < argc; ++p) {
    auto r = v->run(**c, argv[p]);
    if (r) continue;
    std::cout.flush();
    std::cerr << "circuit: " << v->name << ' ' << argv[p] << ": " << words(r.err()) << '\n';
    print_error_file(**c, argv[p]);
    status = 1;
  }
  return status;
}
