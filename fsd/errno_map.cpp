#include "errno_map.hpp"

#include <cerrno>

namespace circuit::fsd {

int to_errno(errc code) {
  struct row {
    errc code;
    int no;
  };
  static constexpr row table[] = {
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
  };
  for (const auto& r : table)
    if (r.code == code) return r.no;
  return EIO;
}

}  // namespace circuit::fsd
