#include "circuit/core/error.hpp"

namespace circuit {

const char* errc_name(errc code) {
  switch (code) {
    case errc::ok: return "ok";
    case errc::not_found: return "not found";
    case errc::invalid: return "invalid";
    case errc::exists: return "exists";
    case errc::busy: return "busy";
    case errc::would_block: return "would block";
    case errc::closed: return "closed";
    case errc::interrupted: return "interrupted";
    case errc::too_big: return "too big";
    case errc::out_of_range: return "out of range";
    case errc::not_dir: return "not a directory";
    case errc::is_dir: return "is a directory";
    case errc::not_permitted: return "not permitted";
    case errc::access: return "access";
    case errc::host_down: return "host down";
    case errc::removed: return "removed";
    case errc::bad_state: return "bad state";
    case errc::io: return "i/o";
    case errc::no_process: return "no process";
    case errc::no_memory: return "no memory";
    case errc::not_supported: return "not supported";
    case errc::timed_out: return "timed out";
    case errc::host_unreachable: return "host unreachable";
    case errc::bad_fid: return "bad fid";
    case errc::no_space: return "no space";
    case errc::over_quota: return "over quota";
    case errc::no_descriptors: return "no descriptors";
  }
  return "unknown";
}

std::string cut_text(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::string tail = "... (" + std::to_string(text.size()) + " bytes)";
  std::size_t keep = max > tail.size() ? max - tail.size() : 0;
  // Do not end inside a UTF-8 sequence: back up over continuation bytes.
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80) --keep;
  text.resize(keep);
  text += tail;
  text.shrink_to_fit();
  return text;
}

}  // namespace circuit
