// mount_listing.cpp — a remote directory's listing: read whole at its open,
// held against the daemon's memory bound, handed out by index.
#include <functional>
#include <memory>

#include "circuit/wire/mount.hpp"

namespace circuit::wire {

// Reads the listing of open directory `fid` batch by batch; `done` gets
// the directory's attributes once it is whole. A server whose listing does
// not end, or passes what the daemon may hold, fails the open with words,
// and what was taken is given back.
void mount::read_listing(std::uint32_t fid, attr a, op_ptr<attr> done) {
  auto got = std::make_shared<listing>();
  auto more = std::make_shared<std::function<void(std::uint64_t)>>();
  auto self = shared_from_this();
  auto fail = [self, got, more, done](error e) {
    *more = nullptr;  // the cycle ends here
    if (self->held_) self->held_->give(got->bytes);
    if (!done->done()) done->complete(std::move(e));
  };
  *more = [self, done, fid, a, got, more, fail](std::uint64_t offset) {
    self->cl_->set_deadline(std::chrono::duration_cast<client::duration>(self->deadline_));
    self->cl_->readdir(
        fid, offset, self->cl_->msize() - rread_overhead,
        [self, done, fid, a, got, more, fail](result<std::vector<dirent>> r) {
          if (done->done()) return fail(make_error(errc::interrupted, "cancelled"));
          if (!r) return fail(r.err());
          if (r->empty()) {
            self->listings_[fid] = std::move(*got);
            *more = nullptr;
            return done->complete(a);
          }
          std::size_t bytes = 0;
          for (auto& e : *r) bytes += sizeof(dir_entry) + e.name.size();
          if (got->entries.size() + r->size() > max_listing)
            return fail(make_error(errc::too_big, self->name_ + ": a listing of over " +
                                                      std::to_string(max_listing) + " entries"));
          if (self->held_ && !self->held_->take(bytes))
            return fail(make_error(errc::no_memory, self->name_ + ": a listing of " +
                                                        std::to_string(got->entries.size()) +
                                                        " entries and more: circuitd holds its "
                                                        "--max-memory of bytes now"));
          got->bytes += bytes;
          for (auto& e : *r)
            if (e.name != "." && e.name != "..")
              got->entries.push_back(dir_entry{e.name, self->attr_of(e.qid)});
          (*more)(r->back().offset);
        });
    self->cl_->set_deadline(client::duration::zero());
  };
  (*more)(0);
}

void mount::readdir(std::uint32_t fid, std::uint64_t index, op_ptr<std::vector<dir_entry>> done) {
  auto it = listings_.find(fid);
  if (it == listings_.end())
    return done->complete(make_error(errc::bad_fid, "readdir: not an open directory of " + name_));
  std::vector<dir_entry> out;
  auto& entries = it->second.entries;
  for (std::uint64_t i = index; i < entries.size(); ++i) out.push_back(entries[i]);
  done->complete(std::move(out));
}

void mount::drop_listing(std::uint32_t fid) {
  auto it = listings_.find(fid);
  if (it == listings_.end()) return;
  if (held_) held_->give(it->second.bytes);
  listings_.erase(it);
}
}  // namespace circuit::wire
