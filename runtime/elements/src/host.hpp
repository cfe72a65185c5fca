// host.hpp — one member of the cluster: /<host>/{help,stat,ctl,error,channels/}.
#pragma once

#include <chrono>
#include <memory>
#include <random>

#include "circuit/core/dir.hpp"

namespace circuit {

class bin;
class channels;
class workers;

class host final : public dir {
 public:
  host(ns& space, dir* parent, std::string name);
  ~host() override;

  std::span<const file_entry> files() const override;
  std::string_view about() const override;
  std::string_view example() const override;
  std::span<const verb> verbs() const override;
  dir* child(std::string_view name) override;
  std::vector<dir*> children() override;

  const std::string& member_id() const { return id_text_; }
  std::string stat() const;  // the JSON of its stat table (host.cpp)
  std::vector<stat_doc> stat_fields() const override;
  channels& chans() { return *channels_; }
  workers& procs() { return *workers_; }
  bin& store() { return *bin_; }
  std::size_t channel_count() const;
  std::size_t worker_count() const;
  std::chrono::system_clock::time_point started() const { return started_; }

 private:
  std::string id_text_;
  std::chrono::system_clock::time_point started_;
  std::shared_ptr<channels> channels_;
  std::shared_ptr<workers> workers_;
  std::shared_ptr<bin> bin_;
};

}  // namespace circuit
