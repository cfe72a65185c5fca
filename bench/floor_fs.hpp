// floor_fs.hpp — the reference file system: the least a libfuse low-level
// server can do for open/write/close/open/read/close, so the benchmarks can
// say how far circuitd is above what this machine's FUSE costs anyway.
//
// One file, `f`, in the root. A write at offset 0 starts its contents
// afresh; reads return what was last written, then end of file. It answers
// the same requests circuitd answers for a channel (open, write, flush,
// read, release) with the same entry and attribute timeouts (1.0 s), size 0
// and direct_io, so both see the same sequence of requests from the kernel.
//
// A second file, `p` ("park"), is the floor of park-then-wake: a read of it
// waits in the server (its reply held back) until some process writes `p`;
// that write's bytes answer the read, and the next read of the same open
// gives end of file. A write that finds no reader waiting is kept for the
// next read. One reader at a time is what the benchmark needs.
//
// A third file, `o` ("open park"), does what a channel's send and recv do,
// with nothing else: an open for reading waits in the server (its reply
// held back) until a writer's last close (RELEASE) completes a message;
// that open then reads the message, then end of file. The writes of one
// open make one message; a message no open waits for is kept for the next.
// It is the floor of the very request sequence circuit's park-then-wake
// makes the kernel send.
#pragma once

namespace bench {

inline constexpr const char* floor_file = "f";
inline constexpr const char* floor_park_file = "p";
inline constexpr const char* floor_open_park_file = "o";

// Mounts at `mount` and serves until unmounted or sent SIGTERM/SIGINT/SIGHUP;
// with fuse_session_loop_mt when `multithreaded`, else fuse_session_loop.
// Returns the process exit status.
int serve_floor(const char* mount, bool multithreaded);

}  // namespace bench
