#include "sim/scenario/fault_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "sim/scenario/latency_reader.h"

namespace shardsim::scenario::detail {
namespace {

// ---------------------------------------------------------------------------------------------
// Fault kinds and which timing keys each takes.

enum class ForRule : std::uint8_t { optional, required, forbidden };

struct KindRule {
  std::string_view key;
  FaultKind kind;
  ForRule for_rule;
  std::string_view no_for;  // why `for` does not apply, when it is forbidden
};

constexpr std::array<KindRule, 8> kKinds{{
    {"partition", FaultKind::partition, ForRule::optional, {}},
    {"partition_oneway", FaultKind::partition_oneway, ForRule::optional, {}},
    {"crash", FaultKind::crash, ForRule::forbidden,
     "a crashed host stays down until `restart_after`, if given"},
    {"pause", FaultKind::pause, ForRule::required, {}},
    {"drain", FaultKind::drain, ForRule::forbidden, "a drained node leaves for good"},
    {"clock_jump", FaultKind::clock_jump, ForRule::forbidden, "a clock jump is instantaneous"},
    {"isolate", FaultKind::isolate, ForRule::optional, {}},
    {"link", FaultKind::link, ForRule::optional, {}},
}};

constexpr std::string_view kKindList =
    "partition, partition_oneway, crash, pause, drain, clock_jump, isolate or link";

// `at` first: a fault that is not a map is told "keys such as `at`, `crash`, `partition`".
constexpr std::string_view kFaultKeys[] = {"at",    "crash", "partition",    "partition_oneway",
                                           "pause", "drain", "clock_jump",   "isolate",
                                           "link",  "for",   "restart_after", "on",
                                           "nth"};

constexpr std::array<std::pair<std::string_view, FaultEvent>, 5> kEvents{{
    {"handover.started", FaultEvent::handover_started},
    {"handover.commit_sent", FaultEvent::handover_commit_sent},
    {"handover.installed", FaultEvent::handover_installed},
    {"handover.aborted", FaultEvent::handover_aborted},
    {"cell.migration_started", FaultEvent::cell_migration_started},
}};

// The key of `child` inside `parent`: "crash" for `faults[0].crash`.
std::string_view key_of(const Entry& child, const Entry& parent) {
  return std::string_view{child.path}.substr(parent.path.size() + 1);
}

// ---------------------------------------------------------------------------------------------
// Fault targets. Host names are checked only when the cluster is valid (`hosts` set), so a
// mistake in `cluster:` is not repeated once per fault.

class Targets {
 public:
  Targets(Diagnostics& diag, const Hosts* hosts) : diag_{diag}, hosts_{hosts} {}

  Diagnostics& diag() const { return diag_; }
  const Hosts* hosts() const { return hosts_; }
  // A fault waiting for a protocol event may also name the event's roles, `source` and `target`.
  void allow_roles(bool yes) { roles_ = yes; }
  bool roles() const { return roles_; }

  // Any host.
  std::optional<std::string> host(const Entry& e) const {
    const auto name = read_scalar(diag_, e, "a host name such as node-1");
    if (!name || hosts_ == nullptr) return name;
    if (roles_ && (*name == kRoleSource || *name == kRoleTarget)) return name;
    if (hosts_->exists(*name)) return name;
    report_unknown(e, *name);
    return std::nullopt;
  }

  // A node; `why` says why this fault needs one.
  std::optional<std::string> node(const Entry& e, std::string_view why) const {
    const auto name = host(e);
    if (!name || hosts_ == nullptr || hosts_->is_node(*name)) return name;
    if (roles_ && (*name == kRoleSource || *name == kRoleTarget)) return name;
    diag_.error(e.loc, fmt::format("{} must name a node, got `{}` ({}); {}", e.name, *name,
                                   hosts_->role(*name), why));
    return std::nullopt;
  }

 private:
  void report_unknown(const Entry& e, const std::string& name) const {
    if (!hosts_->phase_b() && is_phase_b_host_name(name)) {
      diag_.error(e.loc,
                  fmt::format("unknown host `{}` in {}: this scenario has no gateways, so it "
                              "has no `store`, `directory` or `gateway-N` hosts (they exist "
                              "only with `cluster.gateways` of 1 or more, the default with "
                              "2 or more nodes); its hosts are {}",
                              name, e.name, hosts_->describe()));
      return;
    }
    const std::vector<std::string_view> candidates{hosts_->names().begin(), hosts_->names().end()};
    std::string hint = suggestion(name, candidates);
    if (!roles_ && (name == kRoleSource || name == kRoleTarget))
      hint = fmt::format("; `{}` is a role, which only a fault with `on:` (a protocol event) can "
                         "name",
                         name);
    diag_.error(e.loc, fmt::format("unknown host `{}` in {}{}", name, e.name,
                                   hint.empty() ? "; the hosts are " + hosts_->describe() : hint));
  }

  Diagnostics& diag_;
  const Hosts* hosts_;
  bool roles_{false};
};

// ---------------------------------------------------------------------------------------------
// The value of each fault kind.

void read_groups(const Targets& t, const Entry& e, FaultSpec& f) {
  Diagnostics& diag = t.diag();
  const auto groups =
      read_list(diag, e, "a list of host groups such as [[node-1, node-2], [node-3, store]]");
  if (!groups) return;
  const bool flat = !groups->empty() && std::all_of(groups->begin(), groups->end(),
                                                    [](auto& g) { return g.value.IsScalar(); });
  if (flat) {  // [node-1, node-2]: one group written without its brackets, or `isolate` meant
    diag.error(e.loc, fmt::format("{} must be a list of host groups such as [[node-1, node-2], "
                                  "[node-3]], got a list of host names; to cut one host off from "
                                  "all others, use `isolate`",
                                  e.name));
    return;
  }
  if (groups->size() < 2) {
    diag.error(e.loc, fmt::format("{} must split the hosts into at least 2 groups, got {}; to cut "
                                  "one host off from all others, use `isolate`",
                                  e.name, groups->size()));
  }
  std::vector<std::pair<std::string, std::string>> seen;  // host, the group that has it
  for (const Entry& g : *groups) {
    const auto hosts = read_list(diag, g, "a list of host names such as [node-1, node-2]");
    if (!hosts) continue;
    if (hosts->empty()) {
      diag.error(g.loc,
                 fmt::format("{} is an empty group; every group needs at least one host", g.name));
    }
    std::vector<std::string> group;
    for (const Entry& h : *hosts) {
      const auto name = t.host(h);
      if (!name) continue;
      const auto it =
          std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == *name; });
      if (it != seen.end()) {
        diag.error(h.loc, fmt::format("`{}` is already in {}; a host can be in only one group",
                                      *name, it->second));
        continue;
      }
      seen.emplace_back(*name, g.name);
      group.push_back(*name);
    }
    f.groups.push_back(std::move(group));
  }
}

void read_oneway(const Targets& t, const Entry& e, FaultSpec& f) {
  static constexpr std::string_view kKeys[] = {"from", "to"};
  MapReader m{t.diag(), e, kKeys};
  const Entry* from_e = m.require("from");
  const Entry* to_e = m.require("to");
  const auto from = from_e ? t.host(*from_e) : std::nullopt;
  const auto to = to_e ? t.host(*to_e) : std::nullopt;
  if (from && to && *from == *to) {
    t.diag().error(to_e->loc, fmt::format("{} is `{}`, the same host as `from`; a one-way "
                                          "partition cuts one host off from another",
                                          to_e->name, *to));
  }
  if (from) f.host = *from;
  if (to) f.peer = *to;
}

void read_drain(const Targets& t, const Entry& e, FaultSpec& f) {
  if (t.hosts() != nullptr && t.hosts()->node_count() < 2) {
    t.diag().error(e.loc, fmt::format("{} needs at least 2 nodes, so that the drained node's cells "
                                      "have somewhere to go; this scenario has 1",
                                      e.name));
    return;
  }
  if (auto node = t.node(e, "only nodes own cells to drain")) f.host = *node;
}

void read_clock_jump(const Targets& t, const Entry& e, FaultSpec& f) {
  static constexpr std::string_view kKeys[] = {"node", "by"};
  MapReader m{t.diag(), e, kKeys};
  if (const Entry* n = m.require("node")) {
    if (auto node = t.node(*n, "leases are timed by node clocks")) f.host = *node;
  }
  if (const Entry* by = m.require("by")) {
    const auto jump = read_duration(t.diag(), *by, Duration::zero() - kMaxDuration, kMaxDuration);
    if (jump && *jump == Duration::zero()) {
      t.diag().error(by->loc, fmt::format("{} must not be zero: a jump of 0s changes nothing; "
                                          "write e.g. 400ms forward or -400ms back",
                                          by->name));
    } else if (jump) {
      f.jump = *jump;
    }
  }
}

void read_link_hosts(const Targets& t, const Entry& e, FaultSpec& f) {
  const auto hosts = read_list(t.diag(), e, "a list of two hosts such as [node-1, node-2]");
  if (!hosts) return;
  if (hosts->size() != 2) {
    t.diag().error(e.loc, fmt::format("{} must be a list of two hosts such as [node-1, node-2], "
                                      "got a list of {}",
                                      e.name, hosts->size()));
    return;
  }
  const auto a = t.host((*hosts)[0]);
  const auto b = t.host((*hosts)[1]);
  if (a && b && *a == *b) {
    t.diag().error((*hosts)[1].loc, fmt::format("{} names `{}` twice; a link joins two different "
                                                "hosts",
                                                e.name, *a));
    return;
  }
  if (a) f.host = *a;
  if (b) f.peer = *b;
}

void read_link(const Targets& t, const Entry& e, FaultSpec& f) {
  static constexpr std::string_view kKeys[] = {"between", "latency", "loss"};
  MapReader m{t.diag(), e, kKeys};
  if (const Entry* between = m.require("between")) read_link_hosts(t, *between, f);
  const Entry* latency = m.get("latency");
  const Entry* loss = m.get("loss");
  if (latency != nullptr) {
    if (auto spec = read_latency(t.diag(), *latency)) f.latency = *spec;
    f.has_latency = true;
  }
  if (loss != nullptr) {
    const auto ppm = read(t.diag(), *loss, kPercent, 0, 1'000'000);
    if (ppm) f.loss_ppm = static_cast<std::uint32_t>(*ppm);
    f.has_loss = true;
  }
  if (m.is_map() && latency == nullptr && loss == nullptr) {
    t.diag().error(e.key_loc, fmt::format("{} needs `latency`, `loss` or both: they are what the "
                                          "link fault changes",
                                          e.name));
  }
}

void read_kind_value(const Targets& t, const KindRule& rule, const Entry& e, FaultSpec& f) {
  switch (rule.kind) {
    case FaultKind::partition:
      return read_groups(t, e, f);
    case FaultKind::partition_oneway:
      return read_oneway(t, e, f);
    case FaultKind::drain:
      return read_drain(t, e, f);
    case FaultKind::clock_jump:
      return read_clock_jump(t, e, f);
    case FaultKind::link:
      return read_link(t, e, f);
    case FaultKind::crash:
    case FaultKind::pause:
    case FaultKind::isolate:
      if (auto host = t.host(e)) f.host = *host;
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// One fault entry.

struct KindFound {
  const KindRule* rule{nullptr};  // null: none, or more than one (reported)
  const Entry* value{nullptr};
};

// Exactly one kind key. `keys_ok` is false when the entry had a bad key, which may well be the
// misspelt kind: it was reported already, so a missing kind is not reported again.
KindFound find_kind(Diagnostics& diag, const MapReader& m, const Entry& e, bool keys_ok) {
  KindFound found;
  bool several = false;
  for (const Entry& x : m.entries()) {
    const std::string_view key = key_of(x, e);
    const auto rule =
        std::find_if(kKinds.begin(), kKinds.end(), [&](const KindRule& k) { return k.key == key; });
    if (rule == kKinds.end()) continue;
    if (found.rule == nullptr) {
      found = {&*rule, &x};
      continue;
    }
    diag.error(x.key_loc, fmt::format("{} has two fault kinds, `{}` and `{}`; give each fault its "
                                      "own entry",
                                      e.name, found.rule->key, key));
    several = true;
  }
  if (several) return {};
  if (found.rule == nullptr && keys_ok && m.is_map()) {
    diag.error(e.loc, fmt::format("{} names no fault kind; give one of {}", e.name, kKindList));
  }
  return found;
}

// `on` and `nth` (a fault that waits for a protocol event): f.on and f.nth.
void read_trigger(Diagnostics& diag, const MapReader& m, const Targets& t, FaultSpec& f) {
  const Entry* on = m.get("on");
  const Entry* nth = m.get("nth");
  if (on == nullptr) {
    if (nth != nullptr) {
      diag.error(nth->key_loc, fmt::format("{} counts protocol events, so it needs `on:` (one of "
                                           "handover.started, handover.commit_sent, "
                                           "handover.installed, handover.aborted, "
                                           "cell.migration_started)",
                                           nth->name));
    }
    return;
  }
  if (const auto ev = read_choice(diag, *on, kEvents)) f.on = *ev;
  if (t.hosts() != nullptr && (!t.hosts()->phase_b() || t.hosts()->node_count() < 2)) {
    diag.error(on->key_loc, fmt::format("{} waits for a cross-node protocol event, which needs a "
                                        "cluster of at least 2 nodes (`cluster.nodes`)",
                                        on->name));
  }
  if (nth != nullptr) {
    if (const auto v = read(diag, *nth, kCount, 1, 1'000'000)) f.nth = static_cast<std::uint32_t>(*v);
  }
}

// `at` (required unless `on` is given), `for` and `restart_after`, each checked against the kind
// when it is known.
void read_timing(Diagnostics& diag, MapReader& m, const KindRule* rule, std::optional<Duration> run,
                 FaultSpec& f) {
  const Entry* at = f.on == FaultEvent::none && m.get("on") == nullptr ? m.require("at") : m.get("at");
  if (at != nullptr) {
    const auto v = read_duration(diag, *at, Duration::zero(), kMaxDuration);
    if (v && run && *v >= *run) {
      diag.error(at->loc, fmt::format("{} ({}) must be before the end of the run (`duration` {})",
                                      at->name, format_duration(*v), format_duration(*run)));
    } else if (v) {
      f.at = Time::from_micros(v->us());
    }
  }
  const Entry* for_e =
      rule && rule->for_rule == ForRule::required ? m.require("for") : m.get("for");
  if (for_e != nullptr && rule && rule->for_rule == ForRule::forbidden) {
    diag.error(for_e->key_loc,
               fmt::format("{} does not apply to `{}`: {}", for_e->name, rule->key, rule->no_for));
  } else if (for_e != nullptr) {
    if (auto v = read_duration(diag, *for_e, Duration::micros(1), kMaxDuration)) f.duration = *v;
  }
  const Entry* restart = m.get("restart_after");
  if (restart != nullptr && rule && rule->kind != FaultKind::crash) {
    diag.error(restart->key_loc,
               fmt::format("{} applies only to `crash`, not to `{}`", restart->name, rule->key));
  } else if (restart != nullptr) {
    const auto v = read_duration(diag, *restart, Duration::micros(1), kMaxDuration);
    if (v) f.restart_after = *v;
  }
}

std::optional<FaultSpec> read_fault(Targets& t, const Entry& e, std::optional<Duration> run) {
  Diagnostics& diag = t.diag();
  const std::size_t errors_before = diag.count();
  MapReader m{diag, e, kFaultKeys};
  const KindFound kind = find_kind(diag, m, e, diag.count() == errors_before);
  FaultSpec f;
  f.loc = e.loc;
  read_trigger(diag, m, t, f);
  t.allow_roles(m.get("on") != nullptr);
  if (kind.rule != nullptr) {
    f.kind = kind.rule->kind;
    read_kind_value(t, *kind.rule, *kind.value, f);
  }
  read_timing(diag, m, kind.rule, run, f);
  if (kind.rule == nullptr || diag.count() != errors_before) return std::nullopt;
  return f;
}

// ---------------------------------------------------------------------------------------------
// chaos:

// `rate` and the range: `restart_after` for crash, `for` for the others. The other range key is
// a likely slip, so it gets its own message instead of "unknown key" plus "missing key".
ChaosKind read_chaos_kind(Diagnostics& diag, const Entry& e, std::string_view kind,
                          std::string_view range_key) {
  static constexpr std::string_view kKeys[] = {"rate", "for", "restart_after"};
  const std::string_view wrong_key = range_key == "for" ? "restart_after" : "for";
  MapReader m{diag, e, kKeys};
  ChaosKind k;
  if (const Entry* r = m.require("rate")) {
    if (auto rate = read_rate(diag, *r)) k.mean_interval = rate->mean_interval();
  }
  if (const Entry* wrong = m.get(wrong_key)) {
    diag.error(wrong->key_loc, fmt::format("{} does not apply to chaos `{}`, which takes `{}`",
                                           wrong->name, kind, range_key));
    return k;
  }
  if (const Entry* range = m.require(range_key)) {
    const auto v =
        read_range(diag, *range, kDuration, "a list [min, max] of durations such as [5s, 20s]", 0,
                   kMaxDuration.us());
    if (v) {
      k.min = Duration::micros((*v)[0]);
      k.max = Duration::micros((*v)[1]);
    }
  }
  return k;
}

// Chaos strikes nodes only and relies on the cluster to recover: a lone node has no peer to take
// over its cells. (Two or more nodes always come with a gateway; the cluster reader sees to that.)
void check_chaos_cluster(Diagnostics& diag, const Entry& e, const Hosts& hosts) {
  if (hosts.node_count() >= 2) return;
  diag.error(e.key_loc, fmt::format("{} needs a cluster of at least 2 nodes (`cluster.nodes`), "
                                    "this scenario has 1: chaos strikes nodes only, and a lone "
                                    "node has no peer to take over its cells",
                                    e.name));
}

}  // namespace

std::vector<FaultSpec> read_faults(Diagnostics& diag, const Entry& e, const Hosts* hosts,
                                   std::optional<Duration> duration) {
  if (e.value.IsSequence() && e.value.size() > kMaxFaults) {
    diag.error(e.loc, fmt::format("{} lists {} faults, above the limit of {}", e.name,
                                  e.value.size(), kMaxFaults));
    return {};
  }
  const auto items = read_list(diag, e, "a list of faults such as [{at: 30s, crash: node-1}]");
  if (!items) return {};
  Targets targets{diag, hosts};
  std::vector<FaultSpec> out;
  for (const Entry& item : *items) {
    if (auto f = read_fault(targets, item, duration)) out.push_back(std::move(*f));
  }
  return out;
}

ChaosSpec read_chaos(Diagnostics& diag, const Entry& e, const Hosts* hosts,
                     std::optional<Duration> duration) {
  static constexpr std::string_view kKeys[] = {"until", "crash", "partition", "pause"};
  MapReader m{diag, e, kKeys};
  ChaosSpec c;
  c.loc = e.loc;
  if (!m.is_map()) return c;
  if (const Entry* u = m.require("until")) {
    const auto until = read_duration(diag, *u, Duration::micros(1), kMaxDuration);
    if (until && duration && *until > *duration) {
      diag.error(u->loc, fmt::format("{} ({}) must not exceed `duration` ({})", u->name,
                                     format_duration(*until), format_duration(*duration)));
    } else if (until) {
      c.until = Time::from_micros(until->us());
    }
  }
  const std::array<std::tuple<std::string_view, std::string_view, ChaosKind*>, 3> kinds{
      {{"crash", "restart_after", &c.crash},
       {"partition", "for", &c.partition},
       {"pause", "for", &c.pause}}};
  bool any = false;
  for (const auto& [key, range_key, field] : kinds) {
    if (const Entry* k = m.get(key)) {
      *field = read_chaos_kind(diag, *k, key, range_key);
      any = true;
    }
  }
  if (!any) {
    diag.error(e.key_loc, fmt::format("{} enables no fault kind; give at least one of `crash`, "
                                      "`partition` or `pause`",
                                      e.name));
  }
  if (hosts != nullptr) check_chaos_cluster(diag, e, *hosts);
  return c;
}

std::vector<Bug> read_bugs(Diagnostics& diag, const Entry& e) {
  static constexpr std::array<std::pair<std::string_view, Bug>, 5> kBugs{
      {{"skip_lease_check", Bug::skip_lease_check},
       {"ack_before_durable", Bug::ack_before_durable},
       {"unfenced_abort", Bug::unfenced_abort},
       {"ghost_gap", Bug::ghost_gap},
       {"ghost_no_corners", Bug::ghost_no_corners}}};
  const auto items = read_list(diag, e, "a list of bug names such as [skip_lease_check]");
  if (!items) return {};
  std::vector<Bug> out;
  std::vector<int> lines;
  for (const Entry& item : *items) {
    const auto bug = read_choice(diag, item, kBugs);
    if (!bug) continue;
    const auto dup = std::find(out.begin(), out.end(), *bug);
    if (dup != out.end()) {
      diag.error(item.loc, fmt::format("duplicate bug `{}` in {} (first listed at line {})",
                                       item.value.Scalar(), e.name,
                                       lines[static_cast<std::size_t>(dup - out.begin())]));
      continue;
    }
    out.push_back(*bug);
    lines.push_back(item.loc.line);
  }
  return out;
}

}  // namespace shardsim::scenario::detail

namespace shardsim::scenario {

const char* fault_event_name(FaultEvent e) {
  switch (e) {
    case FaultEvent::none: return "";
    case FaultEvent::handover_started: return "handover.started";
    case FaultEvent::handover_commit_sent: return "handover.commit_sent";
    case FaultEvent::handover_installed: return "handover.installed";
    case FaultEvent::handover_aborted: return "handover.aborted";
    case FaultEvent::cell_migration_started: return "cell.migration_started";
  }
  return "";
}

}  // namespace shardsim::scenario
