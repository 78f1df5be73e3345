// Tracked<P>: a host's process, wrapped so the runner hears of its death (a crash destroys it).
#pragma once

#include <functional>
#include <memory>
#include <span>

#include "engine/runtime/env.h"

namespace shardsim::sim {

// Wraps a host's process so the runner hears of its death (crash: the kernel destroys it): the
// pointer the runner keeps is cleared and the dead process's counters are kept.
template <class P>
class Tracked final : public Process {
 public:
  Tracked(std::unique_ptr<P> p, P*& slot, std::function<void(const P&)> on_death)
      : p_{std::move(p)}, slot_{slot}, on_death_{std::move(on_death)} {
    slot_ = p_.get();
  }
  ~Tracked() override {
    on_death_(*p_);
    slot_ = nullptr;
  }
  void on_start() override { p_->on_start(); }
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override {
    p_->on_message(from, bytes);
  }
  void on_timer(std::uint64_t tag) override { p_->on_timer(tag); }

 private:
  std::unique_ptr<P> p_;
  P*& slot_;
  std::function<void(const P&)> on_death_;
};

}  // namespace shardsim::sim
