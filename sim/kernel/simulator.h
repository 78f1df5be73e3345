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
//  - A clogged directed link (hold_link, or any link the network answers FateKind::hold for) keeps
//    the messages sent over it inside the simulator, in send order, until release_link; each is
//    then routed afresh, in that order, at the release instant: a new fate from the network
//    (drop, or deliver after a fresh latency), then the ordinary delivery rules (a host that is
//    down when it arrives drops it). The network's FIFO clamp keeps them ahead of anything sent
//    over the link after the release. At most kHeldPerLinkMax wait per link; beyond that the link
//    tail-drops (counted in Stats::held_overflow and dropped).
//  - Every send, delivery, drop, duplicate, timer and fault is recorded in the trace.
//
// Fault records (TraceKind::fault, a = op, then b and c): 1 crash (b = incarnation), 2 restart
// (b = incarnation), 3 pause, 4 resume (b = backlog size), 5 clock (b = offset us, c = drift ppm),
// 6 hold link (host = source, b = target), 7 release link (host = source, b = target, c = messages
// released), 8 message held (host = sender, b = receiver, c = bytes). Ops from 16 up are written by
// the fault scheduler (sim/runner/faults.h) through record().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/runtime/env.h"
#include "net_model/network.h"
#include "sim/kernel/event_queue.h"
#include "sim/trace/trace.h"

namespace shardsim::sim {

class Simulator;
struct HostEnv;

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
  // The host with this name, if any (a linear scan, for set-up and fault scheduling).
  std::optional<HostId> find_host(std::string_view name) const;
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
  const Time& now_ref() const { return now_; }  // for observers that read the time as it moves
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
  Duration clock_offset(HostId h) const;
  std::int64_t clock_drift_ppm(HostId h) const;
  // Rises on every crash (never on restart): a fault that crashed or paused a host compares it to
  // tell whether the host it would restart or resume is still the one it stopped.
  std::uint32_t incarnation(HostId h) const;

  // Clogs the directed link a -> b (network hold) / unclogs it and re-routes what it held, in send
  // order, each with a fresh fate decided now. Both are idempotent; both are recorded.
  void hold_link(HostId a, HostId b);
  void release_link(HostId a, HostId b);
  // Messages waiting on the clogged link a -> b.
  std::size_t held_messages(HostId a, HostId b) const;
  static constexpr std::size_t kHeldPerLinkMax = 65'536;

  // Records a simulator-level event (a fault the kernel does not apply itself) at now().
  void record(TraceKind kind, HostId host, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    trace_.record(now_, kind, host, a, b, c);
  }

  struct Stats {
    std::uint64_t sent{0};
    std::uint64_t bytes{0};
    std::uint64_t delivered{0};
    std::uint64_t dropped{0};
    std::uint64_t duplicated{0};
    std::uint64_t timers{0};
    std::uint64_t held{0};           // times a message was held on a clogged link
    std::uint64_t held_overflow{0};  // messages tail-dropped by a full clogged link (also dropped)
    // Messages sent by type, counted raw in send() (one array index each, nothing named): by the
    // message's first byte, and for the cluster protocol's envelope (first byte 0x40) also by its
    // second, the protocol message type. kNoByte counts the messages too short to have that byte
    // (empty ones; an envelope of one byte). Every sent message is in exactly one by_first entry,
    // so those sum to sent / bytes; the by_envelope entries sum to by_first[0x40]. The names
    // (net.msg.<type>.count / .bytes) are given when reported: sim/runner/message_types.h.
    struct Traffic {
      std::uint64_t messages{0};
      std::uint64_t bytes{0};
    };
    static constexpr std::size_t kNoByte = 256;
    std::array<Traffic, kNoByte + 1> by_first{};
    std::array<Traffic, kNoByte + 1> by_envelope{};
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Host;
  // A message payload waiting in the queue (or on a clogged link), in a slot recycled through a free
  // list. Payloads up to kInline bytes (99.6 % of quickstart's: acks, inputs, small AOI batches) live
  // in the slot itself, one cache line, so a send copies them once with no allocation and no vector
  // bookkeeping (std::vector::assign was ~80 instructions a message); a larger one goes to a heap
  // block from a pool by power-of-two size (large_payload()), returned when the slot is freed.
  // Slots live in fixed chunks that never move: the receiving process reads its payload in place
  // while it sends (taking slots, growing the pool). Memory follows the peak of pending messages.
  struct alignas(64) Payload {
    static constexpr std::size_t kInline = 48;
    std::uint32_t size{0};
    std::unique_ptr<std::uint8_t[]> heap;
    std::uint8_t inline_bytes[kInline]{};
    std::span<const std::uint8_t> bytes() const {
      return {size <= kInline ? inline_bytes : heap.get(), size};
    }
  };
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
  // Schedules a message the network decided to deliver (and its duplicate, if any).
  void deliver_fate(HostId from, HostId to, const net::Fate& fate, std::uint32_t buffer);
  // The duplicate of a message just scheduled (a copy of its payload, at `at`).
  [[gnu::noinline]] void schedule_duplicate(HostId from, HostId to, Time at, std::uint32_t buffer);
  void hold_message(HostId from, HostId to, std::uint32_t buffer);
  static std::uint64_t link_key(HostId from, HostId to) {
    return (static_cast<std::uint64_t>(from.value()) << 32) | to.value();
  }
  TimerId set_timer(HostId h, Time local_at, std::uint64_t tag);
  void cancel_timer(TimerId id);
  void release_timer_event(std::uint32_t slot);
  Time local_time(const HostEnv& h) const;
  Time virtual_from_local(const HostEnv& h, Time local) const;
  std::uint32_t alloc_buffer(std::span<const std::uint8_t> bytes);
  std::uint32_t take_buffer();
  std::uint32_t new_buffer();
  void fill_buffer(std::uint32_t index, std::span<const std::uint8_t> bytes);
  std::uint8_t* large_payload(Payload& p, std::uint32_t size);
  std::uint32_t copy_buffer(std::uint32_t source);
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
  static constexpr int kPayloadChunkBits = 10;
  Payload& payload(std::uint32_t index) {
    return payload_chunks_[index >> kPayloadChunkBits][index & ((1u << kPayloadChunkBits) - 1)];
  }
  std::vector<std::unique_ptr<Payload[]>> payload_chunks_;
  std::uint32_t payload_slots_{0};  // taken at least once; all below are in free_buffers_ or pending
  std::vector<std::uint32_t> free_buffers_;
  std::array<std::vector<std::unique_ptr<std::uint8_t[]>>, 33> large_blocks_;  // by log2 size
  // Buffers of held messages per clogged directed link (link_key), in send order. Looked up, never
  // iterated; an entry keeps its capacity after release, so a link clogged again reuses it.
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> held_;
  Stats stats_;
};

}  // namespace shardsim::sim
