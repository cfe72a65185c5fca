// conn.hpp — the `circuit` command's connection: the asynchronous client
// driven one request at a time, for a program that has nothing else to do
// while it waits.
//
// Thread safety: one thread, the command's.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "circuit/wire/client.hpp"

namespace circuit::cmd {

// "/h1/channels/a" as names to walk: {"h1", "channels", "a"}.
std::vector<std::string> split_path(const std::string& path);

class conn {
 public:
  // Connects to `socket`, negotiates the version and attaches as the
  // calling user.
  static result<std::unique_ptr<conn>> open(const std::string& socket);

  // A new fid for `path`, walked from the root (in steps of max_walk
  // names); a name that is not there is errc::not_found.
  result<std::uint32_t> walk(const std::vector<std::string>& names);
  result<wire::rlopen> lopen(std::uint32_t fid, std::uint32_t flags);
  result<std::string> read(std::uint32_t fid, std::uint64_t offset);
  result<std::uint32_t> write(std::uint32_t fid, std::uint64_t offset, std::string data);
  result<void> clunk(std::uint32_t fid);
  result<void> remove(std::uint32_t fid);
  result<std::vector<wire::dirent>> readdir(std::uint32_t fid, std::uint64_t offset);
  result<wire::rgetattr> getattr(std::uint32_t fid);
  result<wire::qid> mkdir(std::uint32_t dfid, const std::string& name, std::uint32_t mode);
  result<void> rmdir(std::uint32_t dfid, const std::string& name);

  // The whole of a file: walk, open, read to the end, clunk.
  result<std::string> slurp(const std::vector<std::string>& names);
  std::uint32_t max_write() const { return client_->max_write(); }

 private:
  conn() = default;
  // Issues a request through `issue(handler)` and runs the loop until its
  // handler has run.
  template <class T, class F>
  result<T> wait(F issue);

  boost::asio::io_context io_;
  std::shared_ptr<wire::client> client_;
  std::uint32_t root_ = 0;
};

}  // namespace circuit::cmd
