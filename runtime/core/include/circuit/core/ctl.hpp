// ctl.hpp — control verbs as tables, and the number parser every file uses.
//
// A `ctl` file takes newline-separated commands, several per write. Each
// verb is a row: name, how many arguments, usage, one line of help, handler.
// Commands run in order; the first that fails stops the rest and fails the
// write(2) (the ones before it have been applied), and the message names
// the line.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "circuit/core/dir.hpp"

namespace circuit {

// (struct verb is in dir.hpp: a directory names its verbs, for help.)

result<void> run_ctl(std::span<const verb> verbs, dir& d, const caller& who,
                     std::string_view text);

// A whole non-negative decimal integer (surrounding blanks and one trailing
// newline allowed), at most `max`. `what` prefixes the message: "cap".
result<std::uint64_t> parse_count(std::string_view what, std::string_view text,
                                  std::uint64_t max);

// Quotes user text for a message: cut short, control bytes escaped.
std::string quote(std::string_view s);

// Shows a long user value, such as a path, in a message without quotes:
// control bytes escaped as \xNN, and past `max` bytes its middle replaced
// by "...", so the message keeps its end ("path /a/.../x: no such file").
std::string clip(std::string_view s, std::size_t max = 100);

// Splits on blanks; no quoting.
std::vector<std::string_view> split_words(std::string_view line);

}  // namespace circuit
