#include "channels.hpp"

#include "channel.hpp"

namespace circuit {

std::string_view channels::about() const {
  return "The channels of this host: one directory per channel.\n"
         "\n"
         "mkdir NAME makes a channel (names: letters, digits, '.', '_', '-';\n"
         "at most 64); rmdir NAME removes it, failing its waiting senders and\n"
         "receivers. The channel lives in this host's circuitd and is reached\n"
         "from every host by its path. See NAME/help.";
}

std::string_view channels::example() const {
  return "  mkdir jobs && echo 3 > jobs/cap\n"
         "  echo hello > jobs/send\n"
         "  cat jobs/recv\n"
         "  rmdir jobs";
}

std::shared_ptr<dir> channels::make_item(std::string name) {
  return std::make_shared<channel>(space(), this, std::move(name));
}

}  // namespace circuit
