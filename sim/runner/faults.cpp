#include "sim/runner/faults.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "engine/core/assert.h"
#include "engine/core/rng.h"
#include "sim/scenario/units.h"

namespace shardsim::sim {

using scenario::FaultKind;
using scenario::FaultSpec;

// ---------------------------------------------------------------------------------------------
// Realize: timeline + chaos -> one explicit, sorted list.

namespace {

// Stream indices: fixed forever, so a run's chaos never changes when another kind is added.
enum class ChaosStream : std::uint64_t { crash = 0, partition = 1, pause = 2 };

Duration uniform_duration(Rng& rng, Duration lo, Duration hi) {
  return Duration::micros(rng.between(lo.us(), hi.us()));
}

// The arrival times of one chaos kind, drawn one at a time (callers interleave their own draws).
class Arrivals {
 public:
  Arrivals(Duration mean, Time until)
      : lo_{std::max<std::int64_t>(1, mean.us() / 2)},
        hi_{std::max<std::int64_t>(lo_, 3 * mean.us() / 2)},
        until_{until} {}
  // The next arrival, or nullopt once at or past `until` (or the per-kind limit).
  std::optional<Time> next(Rng& rng) {
    if (count_ >= kMaxChaosFaultsPerKind) return std::nullopt;
    t_ += Duration::micros(rng.between(lo_, hi_));
    if (t_ >= until_) return std::nullopt;
    ++count_;
    return t_;
  }

 private:
  std::int64_t lo_;
  std::int64_t hi_;
  Time until_;
  Time t_{Time::zero()};
  std::size_t count_{0};
};

// A chaos fault's length: uniform in [min, max], at least 1us (zero means "forever") and ending
// by `until`.
Duration chaos_length(Rng& rng, const scenario::ChaosKind& kind, Time at, Time until) {
  const Duration lo = std::max(kind.min, Duration::micros(1));
  const Duration hi = std::max(kind.max, lo);
  return std::min(uniform_duration(rng, lo, hi), until - at);
}

RealizedFault chaos_fault(FaultKind kind, Time at) {
  RealizedFault f;
  f.spec.kind = kind;
  f.spec.at = at;
  f.from_chaos = true;
  return f;
}

void realize_host_chaos(const scenario::ScenarioSpec& spec, std::uint64_t seed, FaultKind kind,
                        const scenario::ChaosKind& chaos, std::vector<RealizedFault>& out) {
  if (!chaos.enabled() || spec.node_names.empty()) return;
  const auto stream = kind == FaultKind::crash ? ChaosStream::crash : ChaosStream::pause;
  Rng rng = Rng::stream(seed, "chaos", static_cast<std::uint64_t>(stream));
  Arrivals arrivals{chaos.mean_interval, spec.chaos.until};
  while (const std::optional<Time> at = arrivals.next(rng)) {
    RealizedFault f = chaos_fault(kind, *at);
    f.spec.host = spec.node_names[rng.below(spec.node_names.size())];
    const Duration length = chaos_length(rng, chaos, *at, spec.chaos.until);
    if (kind == FaultKind::crash)
      f.spec.restart_after = length;
    else
      f.spec.duration = length;
    out.push_back(std::move(f));
  }
}

void realize_partition_chaos(const scenario::ScenarioSpec& spec, std::uint64_t seed,
                             std::vector<RealizedFault>& out) {
  const scenario::ChaosKind& chaos = spec.chaos.partition;
  std::vector<std::string> names = spec.node_names;
  if (spec.cluster.phase_b()) names.emplace_back("directory");
  if (!chaos.enabled() || names.size() < 2) return;
  Rng rng = Rng::stream(seed, "chaos", static_cast<std::uint64_t>(ChaosStream::partition));
  Arrivals arrivals{chaos.mean_interval, spec.chaos.until};
  while (const std::optional<Time> at = arrivals.next(rng)) {
    // Fisher-Yates from the back, always from the same starting order, so a fault's groups depend
    // only on its own draws.
    std::vector<std::string> shuffled = names;
    for (std::size_t i = shuffled.size() - 1; i > 0; --i) {
      std::swap(shuffled[i], shuffled[rng.below(i + 1)]);
    }
    const auto cut = static_cast<std::ptrdiff_t>(
        rng.between(1, static_cast<std::int64_t>(shuffled.size()) - 1));
    RealizedFault f = chaos_fault(FaultKind::partition, *at);
    f.spec.groups.emplace_back(shuffled.begin(), shuffled.begin() + cut);
    f.spec.groups.emplace_back(shuffled.begin() + cut, shuffled.end());
    f.spec.duration = chaos_length(rng, chaos, *at, spec.chaos.until);
    out.push_back(std::move(f));
  }
}

}  // namespace

std::vector<RealizedFault> realize_faults(const scenario::ScenarioSpec& spec, std::uint64_t seed) {
  std::vector<RealizedFault> out;
  out.reserve(spec.faults.size());
  for (const FaultSpec& f : spec.faults) out.push_back(RealizedFault{f, false});
  if (spec.chaos.enabled()) {
    realize_host_chaos(spec, seed, FaultKind::crash, spec.chaos.crash, out);
    realize_partition_chaos(spec, seed, out);
    realize_host_chaos(spec, seed, FaultKind::pause, spec.chaos.pause, out);
  }
  std::stable_sort(out.begin(), out.end(), [](const RealizedFault& a, const RealizedFault& b) {
    return a.spec.at < b.spec.at;
  });
  return out;
}

bool fault_has_end(const FaultSpec& f) {
  switch (f.kind) {
    case FaultKind::crash:
      return f.restart_after > Duration::zero();
    case FaultKind::partition:
    case FaultKind::partition_oneway:
    case FaultKind::pause:
    case FaultKind::isolate:
    case FaultKind::link:
      return f.duration > Duration::zero();
    case FaultKind::drain:
    case FaultKind::clock_jump:
      return false;
  }
  return false;
}

Time fault_end(const FaultSpec& f) {
  if (!fault_has_end(f)) return f.at;
  return f.at + (f.kind == FaultKind::crash ? f.restart_after : f.duration);
}

Time last_fault_end(const std::vector<RealizedFault>& faults) {
  Time last = Time::zero();
  for (const RealizedFault& f : faults)
    if (f.spec.on == scenario::FaultEvent::none) last = std::max(last, fault_end(f.spec));
  return last;
}

// ---------------------------------------------------------------------------------------------
// YAML.

namespace {

const char* kind_key(FaultKind kind) {
  switch (kind) {
    case FaultKind::partition: return "partition";
    case FaultKind::partition_oneway: return "partition_oneway";
    case FaultKind::crash: return "crash";
    case FaultKind::pause: return "pause";
    case FaultKind::drain: return "drain";
    case FaultKind::clock_jump: return "clock_jump";
    case FaultKind::isolate: return "isolate";
    case FaultKind::link: return "link";
  }
  return "unknown";
}

// A host name as a YAML scalar: plain when it cannot be read as anything but that string, quoted
// otherwise (the loader restricts names, but a writer should not rely on it).
std::string yaml_name(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"true", "false", "yes", "no", "on",
                                                   "off",  "null",  "y",   "n",  "~"};
  bool plain = !name.empty() && name.front() >= 'a' && name.front() <= 'z' &&
               std::find(std::begin(kReserved), std::end(kReserved), name) == std::end(kReserved);
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    plain = plain && ok;
  }
  if (plain) return std::string{name};
  std::string out = "\"";
  for (const char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string yaml_latency(const net::LatencySpec& l) {
  using scenario::format_duration;
  switch (l.kind) {
    case net::LatencyKind::constant:
      return format_duration(l.a);
    case net::LatencyKind::uniform:
      return fmt::format("{{distribution: uniform, min: {}, max: {}}}", format_duration(l.a),
                         format_duration(l.b));
    case net::LatencyKind::normal:
      return fmt::format("{{distribution: normal, mean: {}, stddev: {}}}", format_duration(l.a),
                         format_duration(l.b));
    case net::LatencyKind::lognormal:
      return fmt::format("{{distribution: lognormal, median: {}, p99: {}}}", format_duration(l.a),
                         format_duration(l.b));
  }
  return format_duration(l.a);
}

std::string yaml_fault(const RealizedFault& rf) {
  using scenario::format_duration;
  const FaultSpec& f = rf.spec;
  std::string out;
  const auto line = [&out](std::string_view key, const std::string& value) {
    out += fmt::format("    {}: {}\n", key, value);
  };
  if (f.on == scenario::FaultEvent::none) {
    out = fmt::format("  - at: {}{}\n", format_duration(f.at - Time::zero()),
                      rf.from_chaos ? "  # chaos" : "");
  } else {
    out = fmt::format("  - on: {}\n", scenario::fault_event_name(f.on));
    if (f.nth != 1) line("nth", std::to_string(f.nth));
    if (f.at > Time::zero()) line("at", format_duration(f.at - Time::zero()));
  }
  switch (f.kind) {
    case FaultKind::partition: {
      std::string groups = "[";
      for (std::size_t g = 0; g < f.groups.size(); ++g) {
        groups += g == 0 ? "[" : ", [";
        for (std::size_t i = 0; i < f.groups[g].size(); ++i) {
          groups += (i == 0 ? "" : ", ") + yaml_name(f.groups[g][i]);
        }
        groups += "]";
      }
      line(kind_key(f.kind), groups + "]");
      break;
    }
    case FaultKind::partition_oneway:
      line(kind_key(f.kind),
           fmt::format("{{from: {}, to: {}}}", yaml_name(f.host), yaml_name(f.peer)));
      break;
    case FaultKind::link: {
      std::string value = fmt::format("{{between: [{}, {}]", yaml_name(f.host), yaml_name(f.peer));
      if (f.has_latency) value += ", latency: " + yaml_latency(f.latency);
      if (f.has_loss) value += ", loss: " + scenario::format_ppm_percent(f.loss_ppm);
      line(kind_key(f.kind), value + "}");
      break;
    }
    case FaultKind::crash:
      line(kind_key(f.kind), yaml_name(f.host));
      if (f.restart_after > Duration::zero()) {
        line("restart_after", format_duration(f.restart_after));
      }
      break;
    case FaultKind::clock_jump:
      line(kind_key(f.kind),
           fmt::format("{{node: {}, by: {}}}", yaml_name(f.host), format_duration(f.jump)));
      break;
    case FaultKind::pause:
    case FaultKind::drain:
    case FaultKind::isolate:
      line(kind_key(f.kind), yaml_name(f.host));
      break;
  }
  const bool timed =
      f.kind != FaultKind::crash && f.kind != FaultKind::drain && f.kind != FaultKind::clock_jump;
  if (timed && f.duration > Duration::zero()) line("for", format_duration(f.duration));
  return out;
}

}  // namespace

const char* fault_kind_key(FaultKind kind) { return kind_key(kind); }

std::string faults_to_yaml(const std::vector<RealizedFault>& faults) {
  if (faults.empty()) return "faults: []\n";
  std::string out = "faults:\n";
  for (const RealizedFault& f : faults) out += yaml_fault(f);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Apply.

// Everything the scheduled actions share; owned jointly by them (they outlive schedule_faults).
class FaultScheduler : public std::enable_shared_from_this<FaultScheduler> {
 public:
  FaultScheduler(Simulator& sim, net::NetworkModel& net, FaultHooks& hooks,
                 std::vector<RealizedFault> faults,
                 const std::function<HostId(const std::string&)>& host_of)
      : sim_{sim}, net_{net}, hooks_{hooks}, host_of_{host_of}, faults_{std::move(faults)},
        state_(faults_.size()) {
    for (std::size_t i = 0; i < faults_.size(); ++i) {
      if (faults_[i].spec.on == scenario::FaultEvent::none) resolve(i);  // templates hold roles
    }
  }

  std::size_t size() const { return faults_.size(); }
  const FaultSpec& spec(std::size_t i) const { return faults_[i].spec; }
  void begin(std::size_t i);
  void end(std::size_t i);
  // Triggered fault `i` fires now with these role names (see the header); false if it resolved
  // to nonsense and was skipped.
  bool fire(std::size_t i, scenario::FaultEvent e, const std::string& source,
            const std::string& target);

 private:
  struct State {
    // host: crash, pause, drain, clock_jump, isolate; oneway `from`; link a; partition: the first
    // host of the first group (for trace records). peer: oneway `to`; link b.
    HostId host;
    HostId peer;
    std::vector<std::vector<HostId>> groups;
    bool active{false};            // began, applied, not ended yet
    std::uint32_t incarnation{0};  // crash: after the crash; pause: when paused
    net::PartitionId partition;    // partition, partition_oneway, isolate
  };
  // Active link faults on one unordered host pair, in begin order, and what the link was before.
  struct LinkStack {
    net::LinkConfig before;
    std::vector<std::size_t> active;
  };
  using Pair = std::pair<std::uint32_t, std::uint32_t>;

  void record(std::uint64_t op, std::size_t i) {
    sim_.record(TraceKind::fault, state_[i].host, op, static_cast<std::uint64_t>(spec(i).kind), i);
  }
  void applied_begin(std::size_t i) {
    state_[i].active = true;
    hooks_.on_fault(faults_[i], true);
  }
  void applied_end(std::size_t i) { hooks_.on_fault(faults_[i], false); }
  static Pair pair_of(HostId a, HostId b) {
    return a.value() < b.value() ? Pair{a.value(), b.value()} : Pair{b.value(), a.value()};
  }
  net::LinkConfig link_config(std::size_t i, const net::LinkConfig& before) const {
    net::LinkConfig cfg = before;
    if (spec(i).has_latency) cfg.latency = spec(i).latency;
    if (spec(i).has_loss) cfg.loss_ppm = spec(i).loss_ppm;
    return cfg;
  }
  std::optional<std::size_t>& pause_owner(HostId h) {
    if (h.value() >= pause_owner_.size()) pause_owner_.resize(h.value() + 1);
    return pause_owner_[h.value()];
  }

  void resolve(std::size_t i) {
    const FaultSpec& f = faults_[i].spec;
    State& s = state_[i];
    if (!f.host.empty()) s.host = host_of_(f.host);
    if (!f.peer.empty()) s.peer = host_of_(f.peer);
    for (const auto& group : f.groups) {
      std::vector<HostId>& ids = s.groups.emplace_back();
      for (const std::string& name : group) ids.push_back(host_of_(name));
    }
    if (f.kind == FaultKind::partition && !s.groups.empty() && !s.groups.front().empty()) {
      s.host = s.groups.front().front();
    }
  }

  Simulator& sim_;
  net::NetworkModel& net_;
  FaultHooks& hooks_;
  std::function<HostId(const std::string&)> host_of_;
  std::vector<RealizedFault> faults_;
  std::vector<State> state_;
  std::vector<std::optional<std::size_t>> pause_owner_;  // by host value: the pause holding it
  std::map<Pair, LinkStack> links_;                      // ordered: never hash order
};

void FaultScheduler::begin(std::size_t i) {
  const FaultSpec& f = spec(i);
  State& s = state_[i];
  switch (f.kind) {
    case FaultKind::partition:
      record(kFaultOpBegin, i);
      s.partition = net_.partition(s.groups);
      break;
    case FaultKind::partition_oneway:
      record(kFaultOpBegin, i);
      s.partition = net_.partition_oneway({s.host}, {s.peer});
      break;
    case FaultKind::isolate:
      record(kFaultOpBegin, i);
      s.partition = net_.isolate(s.host);
      break;
    case FaultKind::link: {
      record(kFaultOpBegin, i);
      const Pair key = pair_of(s.host, s.peer);
      auto it = links_.find(key);
      if (it == links_.end()) {
        it = links_.emplace(key, LinkStack{net_.link(s.host, s.peer), {}}).first;
      }
      it->second.active.push_back(i);
      net_.set_link(s.host, s.peer, link_config(i, it->second.before), true);
      break;
    }
    case FaultKind::crash:
      if (!sim_.is_up(s.host)) {
        record(kFaultOpBeginSkipped, i);
        return;
      }
      sim_.crash(s.host);  // recorded by the kernel
      s.incarnation = sim_.incarnation(s.host);
      break;
    case FaultKind::pause:
      if (!sim_.is_up(s.host) || sim_.is_paused(s.host)) {
        record(kFaultOpBeginSkipped, i);
        return;
      }
      sim_.pause(s.host);  // recorded by the kernel
      s.incarnation = sim_.incarnation(s.host);
      pause_owner(s.host) = i;
      break;
    case FaultKind::clock_jump:
      sim_.set_clock(s.host, sim_.clock_offset(s.host) + f.jump, sim_.clock_drift_ppm(s.host));
      break;
    case FaultKind::drain:
      if (!sim_.is_up(s.host)) {
        record(kFaultOpBeginSkipped, i);
        return;
      }
      record(kFaultOpBegin, i);
      hooks_.drain(s.host);
      break;
  }
  applied_begin(i);
}

void FaultScheduler::end(std::size_t i) {
  const FaultSpec& f = spec(i);
  State& s = state_[i];
  if (!s.active) return;  // its begin was skipped: nothing of its own to undo
  s.active = false;
  switch (f.kind) {
    case FaultKind::partition:
    case FaultKind::partition_oneway:
    case FaultKind::isolate:
      record(kFaultOpEnd, i);
      net_.heal(s.partition);
      break;
    case FaultKind::link: {
      record(kFaultOpEnd, i);
      const auto it = links_.find(pair_of(s.host, s.peer));
      SHARD_ASSERT(it != links_.end());
      auto& active = it->second.active;
      active.erase(std::find(active.begin(), active.end(), i));
      if (active.empty()) {
        net_.clear_link(s.host, s.peer, true);
        links_.erase(it);
      } else {
        const State& latest = state_[active.back()];
        const net::LinkConfig cfg = link_config(active.back(), it->second.before);
        net_.set_link(latest.host, latest.peer, cfg, true);
      }
      break;
    }
    case FaultKind::crash:
      // Restart only the host this crash took down: not one restarted and crashed again since.
      if (sim_.is_up(s.host) || sim_.incarnation(s.host) != s.incarnation) {
        record(kFaultOpEndSkipped, i);
        applied_end(i);  // it was applied, and is over all the same: the runner's brackets close
        return;
      }
      sim_.restart(s.host);
      break;
    case FaultKind::pause: {
      std::optional<std::size_t>& owner = pause_owner(s.host);
      const bool ours = owner == i && sim_.is_up(s.host) && sim_.is_paused(s.host) &&
                        sim_.incarnation(s.host) == s.incarnation;
      if (owner == i) owner.reset();
      if (!ours) {  // crashed since (and maybe restarted), or resumed by someone else
        record(kFaultOpEndSkipped, i);
        applied_end(i);
        return;
      }
      sim_.resume(s.host);
      break;
    }
    case FaultKind::clock_jump:
    case FaultKind::drain:
      SHARD_ASSERT_MSG(false, "fault {} has no end", i);
      break;
  }
  applied_end(i);
}

namespace {

// A fault whose roles resolved onto one host twice is meaningless; true if it still makes sense.
bool resolved_ok(const FaultSpec& f) {
  if ((f.kind == FaultKind::partition_oneway || f.kind == FaultKind::link) && f.host == f.peer)
    return false;
  std::vector<std::string> seen;
  for (const auto& g : f.groups) {
    for (const auto& h : g) {
      if (std::find(seen.begin(), seen.end(), h) != seen.end()) return false;
      seen.push_back(h);
    }
  }
  return true;
}

}  // namespace

bool FaultScheduler::fire(std::size_t i, scenario::FaultEvent e, const std::string& source,
                          const std::string& target) {
  RealizedFault rf = faults_[i];
  const auto role = [&](std::string& name) {
    if (name == scenario::kRoleSource) {
      name = source;
    } else if (name == scenario::kRoleTarget) {
      name = target;
    }
  };
  role(rf.spec.host);
  role(rf.spec.peer);
  for (auto& g : rf.spec.groups)
    for (auto& h : g) role(h);
  rf.spec.on = scenario::FaultEvent::none;
  rf.spec.at = sim_.now();
  sim_.record(TraceKind::fault, host_of_(source), kFaultOpTriggered, static_cast<std::uint64_t>(e),
              i);
  const std::size_t k = faults_.size();
  faults_.push_back(std::move(rf));
  state_.emplace_back();
  if (!resolved_ok(faults_[k].spec)) {
    state_[k].host = host_of_(source);
    record(kFaultOpBeginSkipped, k);
    return false;
  }
  resolve(k);
  // After the handler that raised the event: at this instant, queued behind it.
  auto self = shared_from_this();
  sim_.at(sim_.now(), [self, k] { self->begin(k); });
  if (fault_has_end(faults_[k].spec))
    sim_.at(fault_end(faults_[k].spec), [self, k] { self->end(k); });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Triggers.

void FaultTriggers::event(scenario::FaultEvent e, std::uint32_t source, std::uint32_t target) {
  if (scheduler_ == nullptr) return;
  const auto name = [&](std::uint32_t node) {
    return node >= 1 && node <= node_names_.size() ? node_names_[node - 1] : std::string{};
  };
  for (Armed& a : armed_) {
    const FaultSpec& f = scheduler_->spec(a.index);
    if (a.fired || f.on != e || *now_ < f.at) continue;
    if (++a.seen < f.nth) continue;
    a.fired = true;
    ++done_;
    if (scheduler_->fire(a.index, e, name(source), name(target))) ++fired_;
  }
  // Nothing left to wait for: stop following handovers (one that never ends, its source crashed,
  // would otherwise stay in the map for the rest of the run).
  if (done_ == armed_.size()) handovers_.clear();
}

void FaultTriggers::on_handover_start(std::uint64_t hid, std::uint64_t player, std::uint32_t from,
                                      std::uint32_t to) {
  if (inner_ != nullptr) inner_->on_handover_start(hid, player, from, to);
  if (scheduler_ == nullptr || done_ == armed_.size()) return;
  handovers_[hid] = {from, to};
  event(scenario::FaultEvent::handover_started, from, to);
}

void FaultTriggers::on_handover_commit(std::uint64_t hid, std::uint64_t player) {
  if (inner_ != nullptr) inner_->on_handover_commit(hid, player);
  const auto it = handovers_.find(hid);
  if (it != handovers_.end())
    event(scenario::FaultEvent::handover_commit_sent, it->second.first, it->second.second);
}

void FaultTriggers::on_handover_end(std::uint64_t hid, std::uint64_t player, bool ok) {
  if (inner_ != nullptr) inner_->on_handover_end(hid, player, ok);
  const auto it = handovers_.find(hid);
  if (it == handovers_.end()) return;
  const auto [from, to] = it->second;
  handovers_.erase(it);
  event(ok ? scenario::FaultEvent::handover_installed : scenario::FaultEvent::handover_aborted,
        from, to);
}

void FaultTriggers::on_migration_out(std::uint32_t node, std::uint32_t to, std::uint32_t cell,
                                     std::span<const cluster::PlayerTransfer> players) {
  if (inner_ != nullptr) inner_->on_migration_out(node, to, cell, players);
  event(scenario::FaultEvent::cell_migration_started, node, to);
}

void schedule_faults(Simulator& sim, net::NetworkModel& net,
                     const std::vector<RealizedFault>& faults,
                     const std::function<HostId(const std::string&)>& host_of, FaultHooks& hooks,
                     FaultTriggers* triggers) {
  if (faults.empty()) return;
  const auto scheduler = std::make_shared<FaultScheduler>(sim, net, hooks, faults, host_of);
  const auto timed = [&](std::size_t i) {
    return scheduler->spec(i).on == scenario::FaultEvent::none;
  };
  for (std::size_t i = 0; i < scheduler->size(); ++i) {
    if (!timed(i)) {
      SHARD_ASSERT_MSG(triggers != nullptr, "fault {} waits for an event but nothing reports them", i);
      triggers->armed_.push_back({i});
      continue;
    }
    SHARD_ASSERT_MSG(scheduler->spec(i).at >= sim.now(),
                     "fault {} at {}us is in the past (now {}us)", i, scheduler->spec(i).at.us(),
                     sim.now().us());
  }
  if (triggers != nullptr && !triggers->armed_.empty()) {
    triggers->scheduler_ = scheduler;
    triggers->now_ = &sim.now_ref();
  }
  // Ends first, in end order: the queue runs ties first-in first-out, so at any instant every end
  // runs before every begin (see the header).
  std::vector<std::size_t> ends;
  for (std::size_t i = 0; i < scheduler->size(); ++i) {
    if (timed(i) && fault_has_end(scheduler->spec(i))) ends.push_back(i);
  }
  std::stable_sort(ends.begin(), ends.end(), [&](std::size_t a, std::size_t b) {
    return fault_end(scheduler->spec(a)) < fault_end(scheduler->spec(b));
  });
  for (const std::size_t i : ends) {
    sim.at(fault_end(scheduler->spec(i)), [scheduler, i] { scheduler->end(i); });
  }
  for (std::size_t i = 0; i < scheduler->size(); ++i) {
    if (timed(i)) sim.at(scheduler->spec(i).at, [scheduler, i] { scheduler->begin(i); });
  }
}

}  // namespace shardsim::sim
