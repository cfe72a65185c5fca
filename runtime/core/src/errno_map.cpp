#include "circuit/core/errno_map.hpp"

#include <cerrno>

namespace circuit {
namespace {

struct row {
  errc code;
  int no;
};
// The first row of an errno is the code it maps back to.
constexpr row table[] = {
    {errc::ok, 0},
    {errc::not_found, ENOENT},
    {errc::invalid, EINVAL},
    {errc::exists, EEXIST},
    {errc::busy, EBUSY},
    {errc::would_block, EAGAIN},
    {errc::closed, EPIPE},
    {errc::interrupted, EINTR},
    {errc::too_big, EFBIG},
    {errc::out_of_range, ERANGE},
    {errc::not_dir, ENOTDIR},
    {errc::is_dir, EISDIR},
    {errc::not_permitted, EPERM},
    {errc::access, EACCES},
    {errc::host_down, EHOSTDOWN},
    {errc::removed, ENOENT},
    {errc::bad_state, EBADF},
    {errc::io, EIO},
    {errc::no_process, ESRCH},
    {errc::no_memory, ENOMEM},
    {errc::not_supported, EOPNOTSUPP},
    {errc::timed_out, ETIMEDOUT},
    {errc::host_unreachable, EHOSTUNREACH},
    {errc::bad_fid, EBADF},
    {errc::no_space, ENOSPC},
    {errc::over_quota, EDQUOT},
    {errc::no_descriptors, EMFILE},
    {errc::no_descriptors, ENFILE},  // from_errno only: to_errno gives the first
};

}  // namespace

int to_errno(errc code) {
  for (const auto& r : table)
    if (r.code == code) return r.no;
  return EIO;
}

errc from_errno(int no) {
  for (const auto& r : table)
    if (r.no == no) return r.code;
  return errc::io;
}

}  // namespace circuit
