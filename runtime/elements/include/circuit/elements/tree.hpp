// tree.hpp — what a face needs of the elements: the tree to serve and the
// local host's workers to stop. Everything else of the elements module is
// private to it (runtime/elements/src).
#pragma once

#include <functional>
#include <memory>

#include "circuit/core/namespace.hpp"

namespace circuit {

// The root of a daemon's tree: help, members, events, and this host's
// directory (named cfg().host) with its channels/ and workers/. Given to
// ns's constructor.
std::shared_ptr<dir> make_tree(ns& space);

// Shows at /NAME a subtree served by `r` (remote.hpp); EEXIST when the
// name is a host's or another mount's. remove_mount takes it away: what
// is open below it keeps its remote fids until closed.
result<void> add_mount(ns& space, const std::string& name, std::shared_ptr<remote> r);
result<void> remove_mount(ns& space, const std::string& name);

// The cluster's other members (issue 8): member NAME's directory at /NAME,
// served by `r` (circuit/cluster/member_remote.hpp); `events` says "join
// NAME" when it comes and "leave NAME" when it goes. member_event adds a
// line of the membership's ("suspect NAME", "alive NAME", "down NAME"; no
// line for an empty `what`: a new link) and makes faces that cache
// entries forget those below the member's directory (not its own entry,
// which may be a shell's working directory), so no stale view outlives a
// member event.
result<void> add_member(ns& space, const std::string& name, std::shared_ptr<remote> r);
result<void> remove_member(ns& space, const std::string& name);
void member_event(ns& space, const std::string& name, const std::string& what);

// Stops the local host's workers (TERM, then KILL after the grace), and
// calls `done` on the loop when all have exited or been given up.
void stop_workers(ns& space, std::function<void()> done);

// How many of the local host's workers still have a live process (after
// the namespace's stop: killed, not yet reaped by the loop).
std::size_t live_workers(ns& space);

}  // namespace circuit
