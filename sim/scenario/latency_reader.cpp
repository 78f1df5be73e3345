#include "sim/scenario/latency_reader.h"

#include <fmt/format.h>

#include <array>
#include <string_view>
#include <utility>

#include "sim/scenario/spec.h"

namespace shardsim::scenario::detail {
namespace {

// The two parameters each latency distribution takes, in LatencySpec order (a, b).
struct DistributionParams {
  std::string_view name;
  net::LatencyKind kind;
  std::array<std::string_view, 2> params;
};
constexpr std::array<DistributionParams, 3> kDistributions{{
    {"uniform", net::LatencyKind::uniform, {"min", "max"}},
    {"normal", net::LatencyKind::normal, {"mean", "stddev"}},
    {"lognormal", net::LatencyKind::lognormal, {"median", "p99"}},
}};

// b must exceed a (lognormal p99 > median) or must not be below it (uniform max >= min).
void check_latency_order(Diagnostics& diag, const Entry& b_entry, const DistributionParams& d,
                         Duration a, Duration b) {
  if (d.kind == net::LatencyKind::lognormal && b <= a) {
    diag.error(b_entry.loc, fmt::format("{} ({}) must be greater than `median` ({})", b_entry.name,
                                        format_duration(b), format_duration(a)));
  } else if (d.kind == net::LatencyKind::uniform && b < a) {
    diag.error(b_entry.loc, fmt::format("{} ({}) must not be below `min` ({})", b_entry.name,
                                        format_duration(b), format_duration(a)));
  }
}

std::optional<net::LatencySpec> read_latency_map(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"distribution", "min",    "max", "mean",
                                               "stddev",       "median", "p99"};
  static constexpr std::array<std::pair<std::string_view, std::size_t>, 3> kNames{
      {{"uniform", 0}, {"normal", 1}, {"lognormal", 2}}};
  MapReader m{diag, e, kKeys};
  const Entry* which = m.require("distribution");
  const auto index = which ? read_choice(diag, *which, kNames) : std::nullopt;
  if (!index) return std::nullopt;
  const DistributionParams& d = kDistributions[*index];
  for (const Entry& p : m.entries()) {
    const std::string_view key = std::string_view{p.path}.substr(e.path.size() + 1);
    if (key == "distribution" || key == d.params[0] || key == d.params[1]) continue;
    diag.error(p.key_loc, fmt::format("{} does not apply to the {} distribution, which takes `{}` "
                                      "and `{}`",
                                      p.name, d.name, d.params[0], d.params[1]));
  }
  const Entry* a_entry = m.require(d.params[0]);
  const Entry* b_entry = m.require(d.params[1]);
  const Duration a_min =
      d.kind == net::LatencyKind::lognormal ? Duration::micros(1) : Duration::zero();
  const auto a = a_entry ? read_duration(diag, *a_entry, a_min, kMaxLatency) : std::nullopt;
  const auto b =
      b_entry ? read_duration(diag, *b_entry, Duration::zero(), kMaxLatency) : std::nullopt;
  if (!a || !b) return std::nullopt;
  check_latency_order(diag, *b_entry, d, *a, *b);
  return net::LatencySpec{d.kind, *a, *b};
}

}  // namespace

std::optional<net::LatencySpec> read_latency(Diagnostics& diag, const Entry& e) {
  if (e.value.IsMap()) return read_latency_map(diag, e);
  if (e.value.IsScalar()) {
    const auto d = read_duration(diag, e, Duration::zero(), kMaxLatency);
    if (!d) return std::nullopt;
    return net::LatencySpec{net::LatencyKind::constant, *d, Duration::zero()};
  }
  diag.error(e.loc, fmt::format("{} must be a duration such as 2ms or a map such as "
                                "{{distribution: lognormal, median: 2ms, p99: 20ms}}, got {}",
                                e.name, kind_name(e.value)));
  return std::nullopt;
}

}  // namespace shardsim::scenario::detail
