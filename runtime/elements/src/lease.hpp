// lease.hpp — an element whose life is tied to an open: the `lease` file
// of channels and workers.
//
// An open of `lease` for writing holds the element: at that open's last
// close — close(2), the exit or death of the processes holding it, the end
// of the 9P connection that opened it, a member's loss for an open
// forwarded from another host — the element is removed, as rmdir removes
// it, except that a running worker is not refused: its processes are
// killed. Writing `keep` to the open lets go of it. So a program ties what
// it makes to its own life (libcircuit does), as Plan 9's ORCLOSE does a
// file's, and a shell to a descriptor: `exec 3>channels/tmp/lease`.
//
// Thread safety: the loop thread.
#pragma once

#include "circuit/core/dir.hpp"

namespace circuit {

void open_lease(dir& d, const open_args& a, op_ptr<handle_ptr> done);

inline constexpr file_entry lease_entry{
    .name = "lease",
    .help = "an open for writing holds the element: at its last close it is removed (a running worker killed); write keep to let go",
    .open = open_lease,
    .writable = true,
    .mode = 0200};

}  // namespace circuit
