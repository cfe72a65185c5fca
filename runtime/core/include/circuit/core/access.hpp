// access.hpp — who may do what (DESIGN.md §1, "Who may do what").
//
// The rules live in the core, so every face (the mount now, the socket and
// the peers later) shares them. `ns` applies them to every operation:
//
//  - Admission: only root, the daemon's user and, with --allow-group, the
//    members of that group may use the namespace at all. Anyone else is
//    refused with errc::access before any operation, and nothing is kept
//    for them (no per-session error message, no log line), so a stranger
//    can neither fill the daemon's memory nor its log.
//  - Modes: every file and directory has an owner (its element's maker), a
//    group (the allowed group; without one, the maker's group) and
//    permission bits (file_entry::mode, dir::mode()), checked as the kernel
//    checks a file's mode: the owner's bits for the owner, the group's for
//    a member, none for anyone else; root may read and write anything.
//    Without an allowed group the group bits are cleared. The FUSE face
//    reports the same owner, group and bits and mounts with
//    default_permissions, so the kernel makes the same check first, and
//    `[ -w file ]` tells each user the truth.
//  - Removal: the folders that make elements are sticky (01770, like
//    /tmp): only an element's maker, the folder's owner (the daemon's
//    user) or root may remove it.
//
// Thread safety: pure functions.
#pragma once

#include <sys/types.h>

#include <string_view>

#include "circuit/core/dir.hpp"
#include "circuit/core/error.hpp"

namespace circuit {

struct attr;
struct config;

// Whether `who` may use the namespace at all.
result<void> admit(const config& cfg, const principal& who);

// Whether `who` may use a file or directory with attributes `a` for
// `mask`, a set of R_OK, W_OK and X_OK (4, 2, 1).
bool permits(const principal& who, const attr& a, int mask);

// The refusal of `mask` on `path` by its mode, saying who may.
error denied(const attr& a, std::string_view path, int mask);

// The permission bits of a row of a directory's table: its mode, or, when
// the row gives none, the owner's alone as the file opens.
mode_t mode_of(const file_entry& f);

// Bits of the implicit files every directory has (help, error): the group
// reads them (error shows each session its own message).
inline constexpr mode_t implicit_file_mode = 0440;

}  // namespace circuit
