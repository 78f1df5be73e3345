// Units for scenario values: text such as "250ms", "4000m", "6m/s", "30/min" or "0.05%" parsed into
// the simulator's integer representations, and formatted back for messages and summaries.
//
// Rules, shared by every parser here:
// - A number is decimal text: optional '-', digits, optionally '.' and more digits ("0.5", "12").
//   No exponents, no leading '.', no '+', no thousands separators. At most one space between the
//   number and its unit ("250 ms" is accepted; the schema and the docs use "250ms").
// - Decimal text is converted exactly, in integers: "0.05%" is 500 ppm, never 499 through a double.
//   A value finer than the target resolution (1us, 1mm, 1mm/s, 1ppm) is an error, not a rounding.
// - Durations and distances must carry a unit: a bare "50" is an error, because "50" could mean ms
// or
//   s and a silent guess is the worst outcome for a designer.
// - Parsers accept a leading '-' and return negative values; the loader decides where a negative
// value
//   is meaningless (almost everywhere) and says so with the key's name.
//
// Units: durations us, ms, s, min; distances mm, m, km; speeds mm/s, m/s; rates /s, /min, /h;
// probabilities and shares %.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/time.h"

namespace shardsim::scenario {

// Result of parsing one scalar: a value, or a message saying what was wrong and what would be
// right. The message does not name the key; the loader prefixes it ("`tick`: ...").
template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;
  bool ok() const { return value.has_value(); }
};

// An exact decimal: mantissa / 10^scale. "0.05" is {5, 2}; "-3" is {-3, 0}.
struct Decimal {
  std::int64_t mantissa{0};
  int scale{0};  // digits after the point, 0..kMaxScale
  static constexpr int kMaxScale = 9;
  // Nearest double (exact for integers below 2^53). For reporting and expectations only, never for
  // decisions inside a run.
  double to_double() const;
};

// Events per period as an exact ratio in lowest terms, so "30/min" and "0.5/s" lose nothing (both
// are {1, 2s}; "20/s" is {1, 50ms}). Used by `players.actions: 1/s` and the chaos fault rates; the
// helpers below keep the simulator in integer arithmetic.
struct Rate {
  std::int64_t events{0};              // >= 0 (parse_rate yields > 0)
  Duration per{Duration::seconds(1)};  // > 0
  // Mean time between events, rounded to the nearest 1us; Duration::max() when the rate is zero.
  Duration mean_interval() const;
  // Expected events in `window`, in millionths, capped at 1'000'000. For small rates this is the
  // chance of an event in the window (a Bernoulli approximation of a Poisson process per tick).
  std::uint32_t ppm_in(Duration window) const;
  friend bool operator==(const Rate&, const Rate&) = default;
};

Parsed<Decimal> parse_decimal(std::string_view text);       // "12", "0.5", "-3" (no unit allowed)
Parsed<std::int64_t> parse_integer(std::string_view text);  // "1000", "-3" (no unit, no point)
Parsed<std::uint64_t> parse_u64(std::string_view text);     // "0".."18446744073709551615"
Parsed<Duration> parse_duration(std::string_view text);     // "100us" "250ms" "2s" "1.5s" "2min"
Parsed<std::int64_t> parse_distance_mm(std::string_view text);  // "500mm" "100m" "2.5km"
Parsed<std::int64_t> parse_speed_mm_s(std::string_view text);   // "500mm/s" "6m/s" "1.5m/s"
Parsed<Rate> parse_rate(std::string_view text);                 // "1/s" "30/min" "0.5/s" "2/h"; > 0
Parsed<std::int64_t> parse_percent_ppm(std::string_view text);  // "0.5%" -> 5000, "100%" -> 1e6

// Formatting for messages and summaries, so values read back the way a designer writes them:
// durations in whole minutes when exact, else seconds from 1s, else ms from 1ms, else us, with
// decimals as needed (120s -> "2min", 1500us -> "1.5ms"); distances always in metres ("4000m",
// "0.5m"); speeds in m/s ("6m/s"); probabilities in percent (5000ppm -> "0.5%"); rates as /s,
// /min or /h.
std::string format_duration(Duration d);
std::string format_distance_mm(std::int64_t mm);
std::string format_speed_mm_s(std::int64_t mm_s);
std::string format_ppm_percent(std::int64_t ppm);
std::string format_rate(const Rate& r);

}  // namespace shardsim::scenario
