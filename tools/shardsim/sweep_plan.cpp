#include "tools/shardsim/sweep_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "engine/core/assert.h"
#include "engine/core/rng.h"

namespace shardsim::tools {
namespace {

// The whole of `text` as an unsigned decimal number (no sign, no spaces).
std::optional<std::uint64_t> whole_number(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<SeedRange> parse_seed_range(std::string_view text, std::string& error) {
  const auto dots = text.find("..");
  const auto first = whole_number(dots == std::string_view::npos ? text : text.substr(0, dots));
  const auto last = dots == std::string_view::npos ? first : whole_number(text.substr(dots + 2));
  if (!first || !last) {
    error =
        fmt::format("--seeds must be A..B or N with whole numbers (e.g. 1..1000), got '{}'", text);
    return std::nullopt;
  }
  if (*first > *last) {
    error = fmt::format("--seeds {}: the first seed is above the last", text);
    return std::nullopt;
  }
  return SeedRange{*first, *last};
}

std::optional<Shard> parse_shard(std::string_view text, std::string& error) {
  const auto slash = text.find('/');
  const auto index =
      slash == std::string_view::npos ? std::nullopt : whole_number(text.substr(0, slash));
  const auto count =
      slash == std::string_view::npos ? std::nullopt : whole_number(text.substr(slash + 1));
  if (!index || !count) {
    error = fmt::format("--shard must be i/n (0-based, e.g. 0/4), got '{}'", text);
    return std::nullopt;
  }
  if (*count == 0 || *index >= *count) {
    error =
        fmt::format("--shard {}: need n >= 1 and 0 <= i < n (shards are numbered from 0)", text);
    return std::nullopt;
  }
  return Shard{*index, *count};
}

std::optional<unsigned> parse_percent(std::string_view text, std::string& error) {
  const auto number = whole_number(text.ends_with('%') ? text.substr(0, text.size() - 1) : text);
  if (!number || *number > 100) {
    error = fmt::format("--recheck must be a whole percentage from 0% to 100%, got '{}'", text);
    return std::nullopt;
  }
  return static_cast<unsigned>(*number);
}

bool recheck_selected(std::uint64_t seed, unsigned percent) {
  std::uint64_t state = seed;
  return splitmix64(state) % 100 < percent;
}

std::uint64_t seeds_in_shard(SeedRange range, Shard shard) {
  const std::uint64_t span = range.last - range.first;  // seeds in the range, minus one
  if (shard.index > span) return 0;
  const std::uint64_t below = (span - shard.index) / shard.count;
  return below == UINT64_MAX ? UINT64_MAX : below + 1;  // saturates only for 0..2^64-1 unsharded
}

SweepPlan::SweepPlan(std::vector<scenario::ScenarioSpec> specs, SeedRange range, Shard shard)
    : specs_{std::move(specs)}, range_{range}, shard_{shard} {
  SHARD_ASSERT(range_.first <= range_.last);
  SHARD_ASSERT(shard_.index < shard_.count);
  std::stable_sort(specs_.begin(), specs_.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  per_scenario_ = seeds_in_shard(range_, shard_);
  SHARD_ASSERT(per_scenario_ < UINT64_MAX / std::max<std::size_t>(1, specs_.size()));
}

std::uint64_t SweepPlan::seed_of(std::size_t run) const {
  SHARD_ASSERT(run < runs());
  const std::uint64_t k = run % per_scenario_;
  return range_.first + shard_.index + k * shard_.count;
}

}  // namespace shardsim::tools
