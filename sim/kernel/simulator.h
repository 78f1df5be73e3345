// Simulator: the discrete-event kernel. It owns virtual time, the event queue, the hosts and their
// processes, and routes every message through the network model.
//
// Invariants:
//  - Events run in (time, insertion sequence) order; ties are FIFO. Nothing else orders execution.
//  - A crashed host loses its process (volatile state), its pending timers, its queued messages and every
//    message that reaches it while down; restart builds a fresh process from the host's factory, which may
//    read only durable state the factory captured.
//  - A paused host runs nothing: timers and messages that fall due while it is paused queue, in order,
//    and run when it resumes, with the host acting on whatever it believed before the pause.
//  - Each host has its own clock: local = virtual + offset + drift. Timers are set in local time
//    and never fire before the host's clock reads their deadline, even if set_clock moves it back.
//  - Every send, delivery, drop, duplicate, timer and fault is recorded in the trace.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/env.h"
#include "net_model/network.h"
#include "sim/kernel/event_queue.h"
#include "sim/trace/trace.h"

namespace shardsim::sim {

class Simulator;

using ProcessFactory = std::function<std::unique_ptr<Process>(Env&)>;

class Simulator {
 public:
  Simulator(std::uint64_t seed, net::NetworkModel& network, Trace& trace);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Adds a host; its process is created by `factory` when the simulation starts (and on restart).
  HostId add_host(std::string name, ProcessFactory factory);
  const std::string& host_name(HostId h) const;
  std::size_t host_count() const { return hosts_.size(); }
  Process* process(HostId h);  // null while the host is down

  // Schedules a simulator-level action (a scenario fault, a checker sweep) at virtual time t.
  void at(Time t, std::function<void()> action);

  // Starts every host (on_start) at the current time, in host order.
  void start();
  // Runs events until virtual time would pass `end` or none remain. Returns events executed.
  std::uint64_t run_until(Time end);
  // Stops run_until after the current event (used by checkers that fail fast).
  void stop() { stopped_ = true; }

  Time now() const { return now_; }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t events_executed() const { return events_; }
  std::size_t pending_events() const { return queue_.size(); }

  // Faults.
  void crash(HostId h);
  void restart(HostId h);
  void pause(HostId h);
  void resume(HostId h);
  void set_clock(HostId h, Duration offset, std::int64_t drift_ppm);
  bool is_up(HostId h) const;
  bool is_paused(HostId h) const;

  struct Stats {
    std::uint64_t sent{0};
    std::uint64_t bytes{0};
    std::uint64_t delivered{0};
    std::uint64_t dropped{0};
    std::uint64_t duplicated{0};
    std::uint64_t timers{0};
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Host;
  enum class Kind : std::uint32_t { deliver = 1, timer = 2, action = 3 };
  struct TimerSlot {
    std::uint32_t generation{0};
    std::uint32_t host{0};
    std::uint32_t incarnation{0};
    bool armed{false};
    Time local_at;  // the deadline by the host's clock, re-checked when the event pops
    // Queue events that name this slot. A clock set forward adds an earlier one beside the pending
    // event, so a slot can have two; it is recycled only when none is left (and it is disarmed).
    std::uint32_t pending{0};
    Time scheduled_at;  // virtual time of the earliest pending event
    std::uint64_t tag{0};
  };
  friend struct HostEnv;

  void dispatch(const Event& e);
  void send(HostId from, HostId to, std::span<const std::uint8_t> bytes);
  void schedule_delivery(HostId from, HostId to, Time at, std::uint32_t buffer);
  TimerId set_timer(HostId h, Time local_at, std::uint64_t tag);
  void cancel_timer(TimerId id);
  void release_timer_event(std::uint32_t slot);
  Time local_time(const Host& h) const;
  Time virtual_from_local(const Host& h, Time local) const;
  std::uint32_t alloc_buffer(std::span<const std::uint8_t> bytes);
  void free_buffer(std::uint32_t index);
  void boot(Host& h);

  std::uint64_t seed_;
  net::NetworkModel& network_;
  Trace& trace_;
  EventQueue queue_;
  Time now_{Time::zero()};
  std::uint64_t events_{0};
  bool stopped_{false};
  bool started_{false};
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::function<void()>> actions_;
  std::vector<TimerSlot> timers_;
  std::vector<std::uint32_t> free_timers_;
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::vector<std::uint32_t> free_buffers_;
  Stats stats_;
};

}  // namespace shardsim::sim
