// channel_io.hpp — sending and receiving channel messages through a mount
// with plain system calls, as a shell's programs do: a message is one
// open, write, close of `send`; receiving one is an open of `recv`, reads
// until end of file, and a close.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
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

// Seconds for `send` (on a thread of its own) and `receive` (on this one)
// run at once. When one fails the other would wait for ever on the
// channel, so the daemons in `stop` get SIGTERM (the other's call then
// fails too); the first error is thrown.
double concurrently(const std::function<void()>& send, const std::function<void()>& receive,
                    const std::vector<pid_t>& stop);

}  // namespace bench
