// fuse_request.hpp — what a kernel request handler (fuse_ops.cpp) reads
// from its request, and how it replies: the face and caller behind the
// request, inode numbers, attributes as stat(2) shows them, and the
// fuse_reply_* of an error, an entry or a status.
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>

#include "circuit/core/error.hpp"
#include "circuit/core/namespace.hpp"
#include "fuse_face.hpp"

namespace circuit::fsd {

// The face that serves the request (fuse_req_userdata).
fuse_face& face(fuse_req_t req);

// How long the kernel may keep entries and attributes. Without its own
// checks (--no-kernel-checks) it keeps nothing, so that every call of
// every user reaches the core's check, none answered from a cache that
// another user's call filled.
double cache_timeout(fuse_req_t req);

// The caller of a request. Its supplementary groups cost a read of
// /proc/PID/task/PID/status, so they are fetched only where they can
// matter: for a user who is neither root nor the daemon's (those pass
// every check without them), and at mkdir (`maker`), where the caller
// becomes the element's maker and a worker runs with the maker's groups.
caller caller_of(fuse_req_t req, bool maker = false);

// The kernel's root inode is 1 (to_fuse, fuse_ops.hpp, is the way back).
std::uint64_t from_fuse(fuse_ino_t ino);

struct stat stat_of(const attr& a);

void reply_err(fuse_req_t req, const error& e);
// The entry the kernel keeps for `a` (a lookup's, a create's).
fuse_entry_param entry_of(fuse_req_t req, const attr& a);
// Returns fuse_reply_entry's verdict: non-zero when the kernel did not take it.
int reply_entry(fuse_req_t req, const attr& a);
void reply_status(fuse_req_t req, const result<void>& r);

}  // namespace circuit::fsd
