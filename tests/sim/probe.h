// Probe: a scripted test process for kernel-level tests (hold/release, fault scheduling). It logs
// "<virtual us> <host> <what>" for every callback into a shared log and lets the test script what
// it does on start and on each timer. A World bundles a constant-latency network, a simulator and a
// trace whose fault records can be read back as text.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net_model/network.h"
#include "sim/kernel/simulator.h"
#include "sim/trace/trace.h"

namespace shardsim::sim::testing {

inline Time ms(std::int64_t v) { return Time::zero() + Duration::millis(v); }

inline net::LinkConfig constant_link(Duration latency) {
  net::LinkConfig cfg;
  cfg.latency = net::LatencySpec{net::LatencyKind::constant, latency, Duration::zero()};
  return cfg;
}

class Probe final : public Process {
 public:
  using Hook = std::function<void(Probe&)>;
  using TimerHook = std::function<void(Probe&, std::uint64_t)>;

  Probe(Env& env, const Simulator& sim, std::vector<std::string>& log, std::string name,
        Hook on_start, TimerHook on_timer)
      : env_{env},
        sim_{sim},
        log_{log},
        name_{std::move(name)},
        start_{std::move(on_start)},
        timer_{std::move(on_timer)} {}

  void on_start() override {
    note("start");
    if (start_) start_(*this);
  }
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override {
    note(fmt::format("msg '{}' from {}",
                     std::string_view{reinterpret_cast<const char*>(bytes.data()), bytes.size()},
                     from.value()));
  }
  void on_timer(std::uint64_t tag) override {
    note(fmt::format("timer {}", tag));
    if (timer_) timer_(*this, tag);
  }

  TimerId timer_in(Duration d, std::uint64_t tag) {
    return env_.timers.set_timer(env_.clock.now() + d, tag);
  }
  void send(HostId to, std::string_view text) {
    env_.transport.send(to,
                        std::span{reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  Time local_now() const { return env_.clock.now(); }
  void note(const std::string& what) {
    log_.push_back(fmt::format("{} {} {}", sim_.now().us(), name_, what));
  }

 private:
  Env env_;
  const Simulator& sim_;
  std::vector<std::string>& log_;
  std::string name_;
  Hook start_;
  TimerHook timer_;
};

struct World {
  explicit World(std::uint64_t seed = 42, net::LinkConfig link = constant_link(Duration::millis(5)))
      : network{seed, link}, sim{seed, network, trace} {
    jsonl = std::tmpfile();
    trace.attach_jsonl(jsonl, [this](HostId h) { return sim.host_name(h); });
  }
  ~World() {
    if (jsonl != nullptr) std::fclose(jsonl);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  HostId add(const std::string& name, Probe::Hook on_start = {}, Probe::TimerHook on_timer = {}) {
    const auto index = probes.size();
    probes.push_back(nullptr);
    return sim.add_host(name, [this, name, index, on_start, on_timer](Env& env) {
      auto p = std::make_unique<Probe>(env, sim, log, name, on_start, on_timer);
      probes[index] = p.get();
      return p;
    });
  }

  // The trace's JSONL lines so far whose kind is `kind`, with the t_us and kind fields removed:
  // e.g. `12000 "host":"b","op":18,"arg1":2,"arg2":1`.
  std::vector<std::string> lines(std::string_view kind) {
    std::vector<std::string> out;
    std::fflush(jsonl);
    std::rewind(jsonl);
    char buf[512];
    const std::string tag = fmt::format(",\"kind\":\"{}\",", kind);
    while (std::fgets(buf, sizeof buf, jsonl) != nullptr) {
      const std::string s{buf};
      const auto k = s.find(tag);
      if (k == std::string::npos) continue;
      const std::string t = s.substr(8, k - 8);  // after {"t_us":
      const std::string rest = s.substr(k + tag.size(), s.rfind('}') - k - tag.size());
      out.push_back(t + " " + rest);
    }
    std::fseek(jsonl, 0, SEEK_END);
    return out;
  }

  Trace trace;
  net::NetworkModel network;
  Simulator sim;
  std::vector<std::string> log;
  std::vector<Probe*> probes;  // the latest incarnation of each host's process
  std::FILE* jsonl{nullptr};
};

using Log = std::vector<std::string>;

}  // namespace shardsim::sim::testing
