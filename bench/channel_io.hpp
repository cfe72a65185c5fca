// channel_io.hpp — sending and receiving channel messages through a mount
// with plain system calls, as a shell's programs do: a message is one
// open, write, close of `send`; receiving one is an open of `recv`, reads
// until end of file, and a close.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bench {

// Sends `msg` `n` times to the file `send`; throws on any error.
void send_messages(const std::string& send, const std::string& msg, int n);
// Receives `n` messages from the file `recv`, each expected to be `size`
// bytes when `check` (throws if not); when `gaps` is given, appends the
// seconds between one message received and the next.
void receive_messages(const std::string& recv, std::size_t size, int n, bool check,
                      std::vector<double>* gaps = nullptr);

}  // namespace bench
