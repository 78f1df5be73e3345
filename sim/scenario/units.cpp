#include "sim/scenario/units.h"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <numeric>

namespace shardsim::scenario {
namespace {

__extension__ typedef __int128
    Int128;  // exact intermediate products; __extension__ keeps -Wpedantic quiet

constexpr std::array<std::int64_t, Decimal::kMaxScale + 1> kPow10 = {
    1, 10, 100, 1'000, 10'000, 100'000, 1'000'000, 10'000'000, 100'000'000, 1'000'000'000};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A number at the front of `text` and whatever follows it (the unit, possibly empty). An empty
// error means `text` does not start with a number; the caller phrases that in terms of what it
// expected.
struct NumberAndUnit {
  Decimal number;
  std::string_view unit;
};

Parsed<NumberAndUnit> split_number(std::string_view text) {
  const std::string_view all = text;
  if (text.empty()) return {std::nullopt, {}};
  bool negative = false;
  if (text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  std::size_t i = 0;
  std::uint64_t mantissa = 0;
  int scale = 0;
  bool any_digit = false;
  bool overflow = false;
  auto take_digit = [&](char c) {
    any_digit = true;
    if (__builtin_mul_overflow(mantissa, 10u, &mantissa) ||
        __builtin_add_overflow(mantissa, static_cast<unsigned>(c - '0'), &mantissa)) {
      overflow = true;
    }
  };
  while (i < text.size() && is_digit(text[i])) take_digit(text[i++]);
  if (!any_digit) return {std::nullopt, {}};  // not a number at all: the caller says what it wanted
  if (i < text.size() && text[i] == '.') {
    ++i;
    const std::size_t first = i;
    while (i < text.size() && is_digit(text[i])) {
      take_digit(text[i++]);
      ++scale;
    }
    if (i == first) {
      return {std::nullopt, fmt::format("expected digits after the decimal point in `{}`", all)};
    }
    if (scale > Decimal::kMaxScale) {
      return {std::nullopt,
              fmt::format("too many decimal places in `{}` (at most {})", all, Decimal::kMaxScale)};
    }
  }
  if (overflow || mantissa > static_cast<std::uint64_t>(INT64_MAX)) {
    return {std::nullopt, fmt::format("`{}` is too large", all)};
  }
  std::string_view unit = text.substr(i);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  const auto m = static_cast<std::int64_t>(mantissa);
  return {NumberAndUnit{Decimal{negative ? -m : m, scale}, unit}, {}};
}

// One accepted unit suffix and how many base units (us, mm, mm/s, ppm) it stands for.
struct UnitFactor {
  std::string_view suffix;
  std::int64_t factor;
};

// What a family of units is called in messages.
struct UnitFamily {
  std::string_view what;        // "duration"
  std::string_view example;     // "250ms"
  std::string_view list;        // "us, ms, s or min"
  std::string_view resolution;  // "1us"
};

// Exact value * factor / 10^scale, or an error when it overflows or is finer than the resolution.
Parsed<std::int64_t> scale_exact(std::string_view text, Decimal d, std::int64_t factor,
                                 std::string_view resolution) {
  const Int128 product = static_cast<Int128>(d.mantissa) * factor;
  const std::int64_t divisor = kPow10[static_cast<std::size_t>(d.scale)];
  if (product % divisor != 0) {
    return {std::nullopt, fmt::format("`{}` is finer than the {} resolution", text, resolution)};
  }
  const Int128 value = product / divisor;
  constexpr Int128 kLimit = INT64_MAX / 4;  // headroom for sums of a few values
  if (value > kLimit || value < -kLimit) {
    return {std::nullopt, fmt::format("`{}` is too large", text)};
  }
  return {static_cast<std::int64_t>(value), {}};
}

template <std::size_t N>
Parsed<std::int64_t> parse_with_units(std::string_view text, const std::array<UnitFactor, N>& units,
                                      const UnitFamily& family) {
  auto split = split_number(text);
  if (!split.ok()) {
    if (!split.error.empty()) return {std::nullopt, split.error};
    return {std::nullopt,
            fmt::format("expected a {} such as {}, got `{}`", family.what, family.example, text)};
  }
  const auto& [number, unit] = *split.value;
  if (unit.empty()) {
    return {std::nullopt,
            fmt::format("{} needs a unit: {} (got `{}`)", family.what, family.list, text)};
  }
  for (const auto& u : units) {
    if (u.suffix == unit) return scale_exact(text, number, u.factor, family.resolution);
  }
  return {std::nullopt, fmt::format("unknown {} unit `{}` in `{}`; use {}", family.what, unit, text,
                                    family.list)};
}

// "1.5" from value / divisor, without trailing zeros.
std::string format_fixed(std::int64_t value, std::int64_t divisor) {
  const bool negative = value < 0;
  const std::uint64_t mag =
      negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  const auto div = static_cast<std::uint64_t>(divisor);
  std::string out = fmt::format("{}{}", negative ? "-" : "", mag / div);
  std::uint64_t frac = mag % div;
  if (frac == 0) return out;
  int width = 0;
  for (std::uint64_t d = div; d > 1; d /= 10) ++width;
  std::string digits = fmt::format("{:0{}}", frac, width);
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

}  // namespace

double Decimal::to_double() const {
  return static_cast<double>(mantissa) /
         static_cast<double>(kPow10[static_cast<std::size_t>(scale)]);
}

Duration Rate::mean_interval() const {
  if (events <= 0) return Duration::max();
  return Duration::micros((per.us() + events / 2) / events);  // to the nearest 1us
}

std::uint32_t Rate::ppm_in(Duration window) const {
  if (events <= 0 || window.us() <= 0 || per.us() <= 0) return 0;
  const Int128 ppm = static_cast<Int128>(events) * window.us() * 1'000'000 / per.us();
  return ppm >= 1'000'000 ? 1'000'000u : static_cast<std::uint32_t>(ppm);
}

Parsed<Decimal> parse_decimal(std::string_view text) {
  auto split = split_number(text);
  if (!split.ok()) {
    if (!split.error.empty()) return {std::nullopt, split.error};
    return {std::nullopt, fmt::format("expected a number, got `{}`", text)};
  }
  if (!split.value->unit.empty()) {
    return {std::nullopt, fmt::format("expected a plain number without a unit, got `{}`", text)};
  }
  return {split.value->number, {}};
}

Parsed<std::int64_t> parse_integer(std::string_view text) {
  auto split = split_number(text);
  if (!split.ok()) {
    if (!split.error.empty()) return {std::nullopt, split.error};
    return {std::nullopt, fmt::format("expected a whole number, got `{}`", text)};
  }
  const auto& [number, unit] = *split.value;
  if (!unit.empty()) {
    return {std::nullopt,
            fmt::format("expected a plain whole number without a unit, got `{}`", text)};
  }
  const std::int64_t divisor = kPow10[static_cast<std::size_t>(number.scale)];
  if (number.mantissa % divisor != 0) {
    return {std::nullopt, fmt::format("expected a whole number, got `{}`", text)};
  }
  return {number.mantissa / divisor, {}};
}

Parsed<std::uint64_t> parse_u64(std::string_view text) {
  const auto error = [&] {
    return Parsed<std::uint64_t>{
        std::nullopt,
        fmt::format("expected a whole number from 0 to 18446744073709551615, got `{}`", text)};
  };
  if (text.empty()) return error();
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return error();
    if (__builtin_mul_overflow(value, 10u, &value) ||
        __builtin_add_overflow(value, static_cast<unsigned>(c - '0'), &value)) {
      return error();
    }
  }
  return {value, {}};
}

Parsed<Duration> parse_duration(std::string_view text) {
  static constexpr std::array<UnitFactor, 4> kUnits = {
      {{"us", 1}, {"ms", 1'000}, {"s", 1'000'000}, {"min", 60'000'000}}};
  auto us = parse_with_units(text, kUnits, {"duration", "250ms", "us, ms, s or min", "1us"});
  if (!us.ok()) return {std::nullopt, us.error};
  return {Duration::micros(*us.value), {}};
}

Parsed<std::int64_t> parse_distance_mm(std::string_view text) {
  static constexpr std::array<UnitFactor, 3> kUnits = {
      {{"mm", 1}, {"m", 1'000}, {"km", 1'000'000}}};
  return parse_with_units(text, kUnits, {"distance", "100m", "mm, m or km", "1mm"});
}

Parsed<std::int64_t> parse_speed_mm_s(std::string_view text) {
  static constexpr std::array<UnitFactor, 2> kUnits = {{{"mm/s", 1}, {"m/s", 1'000}}};
  return parse_with_units(text, kUnits, {"speed", "6m/s", "m/s or mm/s", "1mm/s"});
}

Parsed<std::int64_t> parse_percent_ppm(std::string_view text) {
  static constexpr std::array<UnitFactor, 1> kUnits = {{{"%", 10'000}}};
  auto split = split_number(text);
  if (split.ok() && split.value->unit.empty()) {
    return {std::nullopt,
            fmt::format("percentage needs a `%` sign (got `{}`); write {}%", text, text)};
  }
  return parse_with_units(text, kUnits, {"percentage", "0.5%", "%", "0.0001% (1 ppm)"});
}

Parsed<Rate> parse_rate(std::string_view text) {
  auto split = split_number(text);
  if (!split.ok()) {
    if (!split.error.empty()) return {std::nullopt, split.error};
    return {std::nullopt, fmt::format("expected a rate such as 1/s or 30/min, got `{}`", text)};
  }
  const auto& [number, unit] = *split.value;
  std::int64_t unit_us = 0;
  if (unit == "/s") {
    unit_us = 1'000'000;
  } else if (unit == "/min") {
    unit_us = 60'000'000;
  } else if (unit == "/h") {
    unit_us = 3'600'000'000;
  } else if (unit.empty()) {
    return {std::nullopt, fmt::format("rate needs a unit: /s, /min or /h (got `{}`)", text)};
  } else {
    return {std::nullopt,
            fmt::format("unknown rate unit `{}` in `{}`; use /s, /min or /h", unit, text)};
  }
  if (number.mantissa < 0) {
    return {std::nullopt, fmt::format("a rate cannot be negative, got `{}`", text)};
  }
  // A zero rate would mean "never": leaving the key out says that without a special case.
  if (number.mantissa == 0) {
    return {std::nullopt,
            fmt::format("a rate must be greater than zero, got `{}`; leave the key out for none",
                        text)};
  }
  // mantissa / 10^scale events per unit = mantissa events per (unit * 10^scale); at most 3.6e18us.
  std::int64_t events = number.mantissa;
  std::int64_t per_us = unit_us * kPow10[static_cast<std::size_t>(number.scale)];
  const std::int64_t g = std::gcd(events, per_us);
  events /= g;
  per_us /= g;
  return {Rate{events, Duration::micros(per_us)}, {}};
}

std::string format_duration(Duration d) {
  const std::int64_t us = d.us();
  const std::int64_t mag = us < 0 ? -us : us;
  if (mag == 0) return "0s";
  if (mag % 60'000'000 == 0) return format_fixed(us, 60'000'000) + "min";
  if (mag >= 1'000'000) return format_fixed(us, 1'000'000) + "s";
  if (mag >= 1'000) return format_fixed(us, 1'000) + "ms";
  return fmt::format("{}us", us);
}

std::string format_distance_mm(std::int64_t mm) { return format_fixed(mm, 1'000) + "m"; }

std::string format_speed_mm_s(std::int64_t mm_s) { return format_fixed(mm_s, 1'000) + "m/s"; }

std::string format_ppm_percent(std::int64_t ppm) { return format_fixed(ppm, 10'000) + "%"; }

std::string format_rate(const Rate& r) {
  // Whole events per second read best as /s; whole events per minute (30/min) as /min, per hour
  // (20/h) as /h; anything else as /s with up to six decimals (truncated).
  const Int128 per_us = r.per.us() > 0 ? r.per.us() : 1;
  const Int128 per_s = static_cast<Int128>(r.events) * 1'000'000;
  const Int128 per_min = static_cast<Int128>(r.events) * 60'000'000;
  const Int128 per_h = static_cast<Int128>(r.events) * 3'600'000'000;
  if (per_s % per_us != 0 && per_min % per_us == 0) {
    return fmt::format("{}/min", static_cast<std::int64_t>(per_min / per_us));
  }
  if (per_s % per_us != 0 && per_h % per_us == 0) {
    return fmt::format("{}/h", static_cast<std::int64_t>(per_h / per_us));
  }
  const Int128 micro = per_s * 1'000'000 / per_us;
  const Int128 limit = INT64_MAX;
  return format_fixed(static_cast<std::int64_t>(micro > limit ? limit : micro), 1'000'000) + "/s";
}

}  // namespace shardsim::scenario
