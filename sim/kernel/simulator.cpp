#include "sim/kernel/simulator.h"

#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "engine/cluster/protocol.h"
#include "engine/core/assert.h"

namespace shardsim::sim {
namespace {
__extension__ typedef __int128 i128;  // exact clock conversion (GCC/Clang)
// engine/cluster/protocol.h's kEnvelope: such messages are also counted by their second byte, the
// protocol message type (Stats::by_envelope). The kernel does not parse them any further.
constexpr std::size_t kClusterEnvelopeByte = cluster::kEnvelope;
}

// The per-host face of the simulator that the engine sees through Env.
struct HostEnv final : Clock, Timers, Transport, Tracer {
  HostEnv(Simulator& sim, HostId id) : sim_{sim}, id_{id} {}
  Time now() const override;
  TimerId set_timer(Time at, std::uint64_t tag) override { return sim_.set_timer(id_, at, tag); }
  void cancel(TimerId id) override { sim_.cancel_timer(id); }
  HostId self() const override { return id_; }
  void send(HostId to, std::span<const std::uint8_t> bytes) override { sim_.send(id_, to, bytes); }
  void record(TraceKind kind, std::uint64_t a, std::uint64_t b, std::uint64_t c) override {
    sim_.trace_.record(sim_.now_, kind, id_, a, b, c);
  }
  Simulator& sim_;
  HostId id_;
  // The host's clock (Simulator::set_clock), here rather than in Host so that now(), called
  // through Env several times per event, reads it beside sim_ instead of looking the host up.
  Duration clock_offset{Duration::zero()};
  std::int64_t drift_ppm{0};
};

// Laid out for the event loop, which touches a host that is usually cold in cache: the first line
// holds what every event reads when the process calls back through its Env (the HostEnv and the
// clock it reads), the second what dispatch() checks; set-up data comes after.
struct alignas(64) Simulator::Host {
  Host(Simulator& sim, HostId id, std::string n, ProcessFactory f)
      : host_env{sim, id}, name{std::move(n)}, factory{std::move(f)},
        env{host_env, host_env, host_env, host_env} {}
  HostEnv host_env;  // with the host's clock
  std::unique_ptr<Process> process;
  bool up{false};
  bool paused{false};
  std::uint32_t incarnation{0};
  std::string name;
  ProcessFactory factory;
  Env env;
  std::vector<Event> deferred;  // events that fell due while paused, in order
};

static_assert(sizeof(HostEnv) <= 64, "HostEnv and the clock share a line");

Time HostEnv::now() const { return sim_.local_time(*this); }

Simulator::Simulator(std::uint64_t seed, net::NetworkModel& network, Trace& trace)
    : seed_{seed}, network_{network}, trace_{trace} {
  timers_.emplace_back();  // slot 0 is never used: TimerId 0 means "no timer"
}

Simulator::~Simulator() = default;

// The payload pool's common path, inline in send(): a free slot, a payload that fits it, one copy.
inline std::uint32_t Simulator::take_buffer() {
  if (free_buffers_.empty()) [[unlikely]] return new_buffer();
  const std::uint32_t index = free_buffers_.back();
  free_buffers_.pop_back();
  return index;
}

inline void Simulator::fill_buffer(std::uint32_t index, std::span<const std::uint8_t> bytes) {
  SHARD_ASSERT(bytes.size() <= std::numeric_limits<std::uint32_t>::max());
  Payload& p = payload(index);
  const auto size = static_cast<std::uint32_t>(bytes.size());
  std::uint8_t* to = size <= Payload::kInline ? p.inline_bytes : large_payload(p, size);
  p.size = size;
  if (size != 0) std::memcpy(to, bytes.data(), size);
}

inline std::uint32_t Simulator::alloc_buffer(std::span<const std::uint8_t> bytes) {
  const std::uint32_t index = take_buffer();
  fill_buffer(index, bytes);
  return index;
}

std::uint32_t Simulator::new_buffer() {
  if ((payload_slots_ >> kPayloadChunkBits) == payload_chunks_.size()) {
    payload_chunks_.push_back(std::make_unique<Payload[]>(std::size_t{1} << kPayloadChunkBits));
  }
  return payload_slots_++;
}

// A large payload's block comes from a pool by power-of-two size, last freed first, so the blocks
// in use are the few that recent sends used and are still in cache. (Kept by the slot, as before,
// every slot that ever carried a large payload owned a block: cross_node's 1000 players cycled
// their tunnel batches and store writes through 6.5 MB of blocks.)
std::uint8_t* Simulator::large_payload(Payload& p, std::uint32_t size) {
  SHARD_ASSERT(!p.heap);
  const auto cls = static_cast<std::size_t>(std::bit_width(size - 1));
  auto& pool = large_blocks_[cls];
  if (pool.empty()) [[unlikely]] {
    p.heap = std::make_unique_for_overwrite<std::uint8_t[]>(std::size_t{1} << cls);
  } else {
    p.heap = std::move(pool.back());
    pool.pop_back();
  }
  return p.heap.get();
}


HostId Simulator::add_host(std::string name, ProcessFactory factory) {
  SHARD_ASSERT(!started_);
  const HostId id{static_cast<std::uint32_t>(hosts_.size())};
  hosts_.push_back(std::make_unique<Host>(*this, id, std::move(name), std::move(factory)));
  return id;
}

const std::string& Simulator::host_name(HostId h) const { return hosts_.at(h.value())->name; }

Process* Simulator::process(HostId h) { return hosts_.at(h.value())->process.get(); }

bool Simulator::is_up(HostId h) const { return hosts_.at(h.value())->up; }
bool Simulator::is_paused(HostId h) const { return hosts_.at(h.value())->paused; }
Duration Simulator::clock_offset(HostId h) const { return hosts_.at(h.value())->host_env.clock_offset; }
std::int64_t Simulator::clock_drift_ppm(HostId h) const { return hosts_.at(h.value())->host_env.drift_ppm; }
std::uint32_t Simulator::incarnation(HostId h) const { return hosts_.at(h.value())->incarnation; }

std::optional<HostId> Simulator::find_host(std::string_view name) const {
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i]->name == name) return HostId{static_cast<std::uint32_t>(i)};
  }
  return std::nullopt;
}

void Simulator::at(Time t, std::function<void()> action) {
  actions_.push_back(std::move(action));
  queue_.push(Event{t, 0, static_cast<std::uint32_t>(Kind::action), 0, actions_.size() - 1, 0});
}

void Simulator::boot(Host& h) {
  h.up = true;
  h.paused = false;
  h.process = h.factory(h.env);
  SHARD_ASSERT(h.process != nullptr);
  trace_.record(now_, TraceKind::host_start, h.host_env.id_, h.incarnation, 0, 0);
  h.process->on_start();
}

void Simulator::start() {
  SHARD_ASSERT(!started_);
  started_ = true;
  for (auto& h : hosts_) boot(*h);
}

std::uint64_t Simulator::run_until(Time end) {
  SHARD_ASSERT(started_);
  stopped_ = false;
  const std::uint64_t before = events_;
  Event e;
  while (!stopped_ && queue_.pop_until(end, e)) {
    now_ = e.time;
    // The hosts and processes of coming events are usually cold (one of ~1000, each touched every
    // few ms): a two-stage prefetch while this event runs. The host after next: both of its lines
    // (HostEnv and clock; process and flags). The next: its process object, whose pointer sits in
    // the host line the previous event prefetched.
    if (const auto next = queue_.likely_next(); next.size() >= 2 && !hosts_.empty()) {
      const Host* after = hosts_[next[1].host].get();
      __builtin_prefetch(after);
      __builtin_prefetch(reinterpret_cast<const char*>(after) + 64);
      __builtin_prefetch(hosts_[next[0].host]->process.get());
    }
    dispatch(e);
  }
  if (!stopped_ && now_ < end) now_ = end;
  return events_ - before;
}

void Simulator::dispatch(const Event& e) {
  const auto kind = static_cast<Kind>(e.kind);
  if (kind == Kind::action) {
    ++events_;
    // Moved out first: the action may call at(), which can reallocate actions_ under it.
    const std::function<void()> action = std::move(actions_[e.a]);
    action();
    return;
  }
  Host& h = *hosts_[e.host];
  if (kind == Kind::timer) {
    const auto index = static_cast<std::uint32_t>(e.a >> 32);
    TimerSlot& slot = timers_[index];
    SHARD_ASSERT(slot.generation == static_cast<std::uint32_t>(e.a));  // slots outlive their events
    if (!slot.armed) {  // cancelled, or already fired through an earlier event
      release_timer_event(index);
      return;
    }
    if (slot.incarnation != h.incarnation || !h.up) {  // the host crashed since: timer lost
      slot.armed = false;
      release_timer_event(index);
      return;
    }
    if (h.paused) {
      h.deferred.push_back(e);
      return;
    }
    if (local_time(h.host_env) < slot.local_at) {
      // The host's clock was set back since the timer was armed: not due yet by that clock.
      Event later = e;
      later.time = virtual_from_local(h.host_env, slot.local_at);
      SHARD_ASSERT(later.time > now_);
      slot.scheduled_at = later.time;
      queue_.push(later);
      return;
    }
    slot.armed = false;
    release_timer_event(index);
    ++events_;
    ++stats_.timers;
    trace_.record(now_, TraceKind::timer, HostId{e.host}, e.b, 0, 0);
    h.process->on_timer(e.b);
    return;
  }
  // Delivery.
  const auto buffer = static_cast<std::uint32_t>(e.a);
  const HostId from{static_cast<std::uint32_t>(e.b)};
  if (!h.up) {
    ++stats_.dropped;
    trace_.record(now_, TraceKind::drop, HostId{e.host}, from.value(), payload(buffer).size, 1);
    free_buffer(buffer);
    return;
  }
  if (h.paused) {
    h.deferred.push_back(e);
    return;
  }
  ++events_;
  ++stats_.delivered;
  const std::span<const std::uint8_t> bytes = payload(buffer).bytes();
  trace_.record_delivery(now_, HostId{e.host}, from, bytes);
  h.process->on_message(from, bytes);
  free_buffer(buffer);
}

void Simulator::send(HostId from, HostId to, std::span<const std::uint8_t> bytes) {
  SHARD_ASSERT(to.value() < hosts_.size());
  ++stats_.sent;
  stats_.bytes += bytes.size();
  // By type: two adds at an index taken from the first byte, two more for an envelope's type.
  const std::size_t size = bytes.size();
  const std::size_t first = size != 0 ? bytes[0] : Stats::kNoByte;
  Stats::Traffic& by_first = stats_.by_first[first];
  ++by_first.messages;
  by_first.bytes += size;
  if (first == kClusterEnvelopeByte) {
    Stats::Traffic& by_type = stats_.by_envelope[size > 1 ? bytes[1] : Stats::kNoByte];
    ++by_type.messages;
    by_type.bytes += size;
  }
  trace_.record(now_, TraceKind::send, from, to.value(), bytes.size(), 0);
  const net::Fate fate = network_.decide(from, to, now_);
  // deliver_fate() inlined for the common case: the fate is checked once, the duplicate out of line.
  if (fate.kind == net::FateKind::deliver) [[likely]] {
    SHARD_ASSERT(fate.deliver_at >= now_);
    const std::uint32_t buffer = alloc_buffer(bytes);
    schedule_delivery(from, to, fate.deliver_at, buffer);
    if (fate.duplicate) [[unlikely]] schedule_duplicate(from, to, fate.duplicate_at, buffer);
    return;
  }
  if (fate.kind == net::FateKind::drop) {
    ++stats_.dropped;
    trace_.record(now_, TraceKind::drop, from, to.value(), bytes.size(), 0);
    return;
  }
  hold_message(from, to, alloc_buffer(bytes));
}

void Simulator::deliver_fate(HostId from, HostId to, const net::Fate& fate, std::uint32_t buffer) {
  SHARD_ASSERT(fate.kind == net::FateKind::deliver);
  SHARD_ASSERT(fate.deliver_at >= now_);
  schedule_delivery(from, to, fate.deliver_at, buffer);
  if (fate.duplicate) schedule_duplicate(from, to, fate.duplicate_at, buffer);
}

void Simulator::schedule_duplicate(HostId from, HostId to, Time at, std::uint32_t buffer) {
  ++stats_.duplicated;
  trace_.record(now_, TraceKind::duplicate, from, to.value(), payload(buffer).size, 0);
  schedule_delivery(from, to, at, copy_buffer(buffer));
}

void Simulator::schedule_delivery(HostId from, HostId to, Time at, std::uint32_t buffer) {
  queue_.push(Event{at, 0, static_cast<std::uint32_t>(Kind::deliver), to.value(), buffer, from.value()});
}

void Simulator::hold_message(HostId from, HostId to, std::uint32_t buffer) {
  std::vector<std::uint32_t>& held = held_[link_key(from, to)];
  const std::size_t bytes = payload(buffer).size;
  if (held.size() >= kHeldPerLinkMax) {  // a clogged link's buffer is full: tail drop
    ++stats_.held_overflow;
    ++stats_.dropped;
    trace_.record(now_, TraceKind::drop, from, to.value(), bytes, 0);
    free_buffer(buffer);
    return;
  }
  ++stats_.held;
  trace_.record(now_, TraceKind::fault, from, 8, to.value(), bytes);
  held.push_back(buffer);
}

void Simulator::hold_link(HostId a, HostId b) {
  SHARD_ASSERT(a.value() < hosts_.size());
  SHARD_ASSERT(b.value() < hosts_.size());
  trace_.record(now_, TraceKind::fault, a, 6, b.value(), 0);
  network_.hold(a, b);
}

void Simulator::release_link(HostId a, HostId b) {
  SHARD_ASSERT(a.value() < hosts_.size());
  SHARD_ASSERT(b.value() < hosts_.size());
  network_.release(a, b);
  const auto it = held_.find(link_key(a, b));
  std::vector<std::uint32_t> pending;
  if (it != held_.end()) pending.swap(it->second);
  trace_.record(now_, TraceKind::fault, a, 7, b.value(), pending.size());
  // In send order, each as if sent now. The network cannot answer hold again here (nothing can
  // clog the link between these decide() calls), but if it did, hold_message would queue the
  // message again behind those already re-held, keeping the order.
  for (const std::uint32_t buffer : pending) {
    const net::Fate fate = network_.decide(a, b, now_);
    if (fate.kind == net::FateKind::drop) {
      ++stats_.dropped;
      trace_.record(now_, TraceKind::drop, a, b.value(), payload(buffer).size, 0);
      free_buffer(buffer);
    } else if (fate.kind == net::FateKind::hold) {
      hold_message(a, b, buffer);
    } else {
      deliver_fate(a, b, fate, buffer);
    }
  }
  // Give the emptied vector's capacity back to the link's entry, unless it was refilled meanwhile.
  pending.clear();
  const auto again = held_.find(link_key(a, b));
  if (again != held_.end() && again->second.empty()) again->second.swap(pending);
}

std::size_t Simulator::held_messages(HostId a, HostId b) const {
  const auto it = held_.find(link_key(a, b));
  return it == held_.end() ? 0 : it->second.size();
}

std::uint32_t Simulator::copy_buffer(std::uint32_t source) {
  const std::uint32_t index = take_buffer();
  fill_buffer(index, payload(source).bytes());
  return index;
}

void Simulator::free_buffer(std::uint32_t index) {
  Payload& p = payload(index);
  if (p.heap) [[unlikely]] {
    large_blocks_[static_cast<std::size_t>(std::bit_width(p.size - 1))].push_back(std::move(p.heap));
  }
  free_buffers_.push_back(index);
}

TimerId Simulator::set_timer(HostId h, Time local_at, std::uint64_t tag) {
  Host& host = *hosts_[h.value()];
  SHARD_ASSERT(host.up);
  std::uint32_t slot;
  if (!free_timers_.empty()) {
    slot = free_timers_.back();
    free_timers_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(timers_.size());
    timers_.emplace_back();
  }
  TimerSlot& s = timers_[slot];
  ++s.generation;
  s.host = h.value();
  s.incarnation = host.incarnation;
  s.armed = true;
  s.local_at = local_at;
  s.tag = tag;
  Time at = virtual_from_local(host.host_env, local_at);
  if (at < now_) at = now_;
  SHARD_ASSERT(s.pending == 0);
  s.pending = 1;
  s.scheduled_at = at;
  const std::uint64_t id = (static_cast<std::uint64_t>(slot) << 32) | s.generation;
  queue_.push(Event{at, 0, static_cast<std::uint32_t>(Kind::timer), h.value(), id, tag});
  return TimerId{id};
}

void Simulator::cancel_timer(TimerId id) {
  if (!id) return;
  TimerSlot& s = timers_.at(id.value >> 32);
  if (s.generation == static_cast<std::uint32_t>(id.value)) s.armed = false;
  // The slot returns to the free list when its last event pops (lazy deletion).
}

void Simulator::release_timer_event(std::uint32_t slot) {
  TimerSlot& s = timers_[slot];
  SHARD_ASSERT(s.pending > 0);
  if (--s.pending == 0 && !s.armed) free_timers_.push_back(slot);
}

Time Simulator::local_time(const HostEnv& h) const {
  if (h.drift_ppm == 0) return now_ + h.clock_offset;
  // local = v + off + floor(v * drift / 1e6). Floor, not truncation, for negative drift too, so
  // that virtual_from_local's ceiling is its exact inverse: a timer fires at the first instant the
  // clock reads its deadline, not a microsecond after.
  const i128 skew = static_cast<i128>(now_.us()) * h.drift_ppm;
  const i128 floor = skew / 1'000'000 - (skew % 1'000'000 < 0 ? 1 : 0);
  return now_ + h.clock_offset + Duration::micros(static_cast<std::int64_t>(floor));
}

Time Simulator::virtual_from_local(const HostEnv& h, Time local) const {
  if (h.drift_ppm == 0) return local - h.clock_offset;
  // local = v + off + v*drift/1e6  =>  v = (local - off) * 1e6 / (1e6 + drift), rounded up so a timer
  // never fires before its local deadline.
  const i128 num = static_cast<i128>((local - h.clock_offset).us()) * 1'000'000;
  const i128 den = 1'000'000 + h.drift_ppm;
  return Time::from_micros(static_cast<std::int64_t>((num + den - 1) / den));
}

void Simulator::crash(HostId id) {
  Host& h = *hosts_.at(id.value());
  if (!h.up) return;
  trace_.record(now_, TraceKind::fault, id, 1, h.incarnation, 0);
  h.up = false;
  h.paused = false;
  h.process.reset();
  for (const Event& e : h.deferred) {
    if (static_cast<Kind>(e.kind) == Kind::deliver) {
      free_buffer(static_cast<std::uint32_t>(e.a));
    } else {  // a deferred timer's event will never pop again: release it here
      timers_[e.a >> 32].armed = false;
      release_timer_event(static_cast<std::uint32_t>(e.a >> 32));
    }
  }
  h.deferred.clear();
  ++h.incarnation;  // every timer of the old incarnation is now dead
}

void Simulator::restart(HostId id) {
  Host& h = *hosts_.at(id.value());
  if (h.up) return;
  trace_.record(now_, TraceKind::fault, id, 2, h.incarnation, 0);
  boot(h);
}

void Simulator::pause(HostId id) {
  Host& h = *hosts_.at(id.value());
  if (!h.up || h.paused) return;
  trace_.record(now_, TraceKind::fault, id, 3, 0, 0);
  h.paused = true;
}

void Simulator::resume(HostId id) {
  Host& h = *hosts_.at(id.value());
  if (!h.up || !h.paused) return;
  trace_.record(now_, TraceKind::fault, id, 4, h.deferred.size(), 0);
  h.paused = false;
  // Run the backlog now, in the order it fell due, before anything else reaches the host:
  // re-queueing it at the resume instant would let a timer or message due at that same instant
  // (scheduled before the backlog was re-queued) overtake events that fell due long before it.
  std::vector<Event> backlog;
  backlog.swap(h.deferred);
  for (const Event& e : backlog) dispatch(e);
}

void Simulator::set_clock(HostId id, Duration offset, std::int64_t drift_ppm) {
  Host& h = *hosts_.at(id.value());
  SHARD_ASSERT(drift_ppm > -1'000'000);
  trace_.record(now_, TraceKind::fault, id, 5, static_cast<std::uint64_t>(offset.us()),
                static_cast<std::uint64_t>(drift_ppm));
  h.host_env.clock_offset = offset;
  h.host_env.drift_ppm = drift_ppm;
  // A clock set forward (or made faster) may bring armed timers due earlier than their pending
  // events: add an event at the new instant. Whichever event pops first fires the timer; the other
  // finds it disarmed. (Set back, the pending event re-checks the clock when it pops.)
  for (std::uint32_t i = 1; i < timers_.size(); ++i) {
    TimerSlot& s = timers_[i];
    if (!s.armed || s.host != id.value() || s.incarnation != h.incarnation) continue;
    Time due = virtual_from_local(h.host_env, s.local_at);
    if (due < now_) due = now_;
    if (due >= s.scheduled_at) continue;
    s.scheduled_at = due;
    ++s.pending;
    const std::uint64_t timer_id = (static_cast<std::uint64_t>(i) << 32) | s.generation;
    queue_.push(Event{due, 0, static_cast<std::uint32_t>(Kind::timer), id.value(), timer_id, s.tag});
  }
}

}  // namespace shardsim::sim
