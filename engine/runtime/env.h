// The engine's only window on the world. Every engine component receives an Env and reaches time,
// timers, the network and the trace through it — never the wall clock, threads or global state — so the
// same engine code runs inside the simulator or, in principle, against a real clock and sockets.
//
// Rules for implementers of these interfaces:
//  - Clock::now() is the host's local clock (it may be offset or drifting from virtual time). Never blocks.
//  - Timers fire by calling Process::on_timer with the tag given; a cancelled timer never fires; a host
//    that crashes loses all its timers.
//  - Transport::send copies the bytes; delivery may be delayed, lost, duplicated or reordered.
//  - Tracer::record folds a domain event into the run's trace digest.
#pragma once

#include <cstdint>
#include <span>

#include "engine/core/ids.h"
#include "engine/core/time.h"

namespace shardsim {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time now() const = 0;
};

struct TimerId {
  std::uint64_t value{0};  // 0 = no timer
  explicit operator bool() const { return value != 0; }
};

class Timers {
 public:
  virtual ~Timers() = default;
  // Fires Process::on_timer(tag) when the host's local clock reaches `at` (immediately-next if past).
  virtual TimerId set_timer(Time at, std::uint64_t tag) = 0;
  virtual void cancel(TimerId id) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual HostId self() const = 0;
  virtual void send(HostId to, std::span<const std::uint8_t> bytes) = 0;
};

// Domain trace event kinds recorded by the engine. The simulator records its own kinds (send, deliver,
// drop, timer, fault) beside these; see sim/trace/trace.h.
enum class TraceKind : std::uint16_t {
  // Kernel kinds (recorded by sim/).
  send = 1,
  deliver = 2,
  drop = 3,
  duplicate = 4,
  timer = 5,
  fault = 6,
  host_start = 7,
  // Engine kinds.
  tick = 32,
  entity_spawn = 33,
  entity_despawn = 34,
  handover_local = 35,
  client_input = 36,
  channel_retransmit = 37,
  channel_overflow = 38,
  decode_error = 39,
  // Cluster kinds (Phase B).
  auth_reject = 48,       // a: sender host, b: bytes
  lease_change = 49,      // a: node, b: lease id, c: 0 expired / 1 granted / 2 left
  cell_assign = 50,       // a: cell, b: node, c: epoch
  cell_migrate = 51,      // a: cell, b: from, c: to
  cell_acquire = 52,      // a: cell, b: epoch, c: how (0 fresh, 1 restore, 2 migration)
  cell_release = 53,      // a: cell, b: epoch, c: why (0 fence, 1 migrated away, 2 lost)
  fence = 54,             // a: node, b: cells dropped
  handover_start = 55,    // a: hid, b: player, c: target cell
  handover_commit = 56,   // a: hid, b: player, c: gen
  handover_install = 57,  // a: hid, b: player, c: new gen
  handover_abort = 58,    // a: hid, b: player, c: reason
  route_update = 59,      // a: player, b: node, c: gen
  store_op = 60,          // a: op, b: entries, c: ok count
  player_restore = 61,    // a: player, b: cell, c: gen
  action_ack = 62,        // a: player, b: seq
};

class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void record(TraceKind kind, std::uint64_t a, std::uint64_t b, std::uint64_t c) = 0;
};

struct Env {
  Clock& clock;
  Timers& timers;
  Transport& transport;
  Tracer& tracer;
};

// A process is the engine object living on one simulated host.
class Process {
 public:
  virtual ~Process() = default;
  virtual void on_start() = 0;
  virtual void on_message(HostId from, std::span<const std::uint8_t> bytes) = 0;
  virtual void on_timer(std::uint64_t tag) = 0;
};

}  // namespace shardsim
