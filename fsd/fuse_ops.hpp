// fuse_ops.hpp — the table of kernel request handlers (fuse_ops.cpp), and
// what the session (fuse_face.cpp) needs of it.
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif
#include <fuse_lowlevel.h>

#include <cstdint>

namespace circuit::fsd {

// One handler per kernel request; fuse_req_userdata is the fuse_face.
const fuse_lowlevel_ops& fuse_ops();

// libfuse's interrupt hook: `data` is the token of a parked request.
void on_interrupt(fuse_req_t req, void* data);

// The kernel's root inode is 1; the namespace's is ns::root_ino.
fuse_ino_t to_fuse(std::uint64_t ino);

}  // namespace circuit::fsd
