// floor_fs.hpp — the reference file system: the least a libfuse low-level
// server can do for open/write/close/open/read/close, so the benchmarks can
// say how far circuitd is above what this machine's FUSE costs anyway.
//
// One file, `f`, in the root. A write at offset 0 starts its contents
// afresh; reads return what was last written, then end of file. It answers
// the same requests circuitd answers for a channel (open, write, flush,
// read, release) with the same entry and attribute timeouts (1.0 s), size 0
// and direct_io, so both see the same sequence of requests from the kernel.
#pragma once

namespace bench {

inline constexpr const char* floor_file = "f";

// Mounts at `mount` and serves until unmounted or sent SIGTERM/SIGINT/SIGHUP;
// with fuse_session_loop_mt when `multithreaded`, else fuse_session_loop.
// Returns the process exit status.
int serve_floor(const char* mount, bool multithreaded);

}  // namespace bench
