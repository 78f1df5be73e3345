// Time and Duration: int64 microseconds in strong types.
//
// Virtual time never goes backwards inside one host's view of the simulator, but each host's clock may be
// offset and drift (see sim/kernel/host.h). There is no floating-point time anywhere: `Time - Time` is a
// `Duration`, `Time + Duration` is a `Time`, and `Time + Time` does not compile.
#pragma once

#include <compare>
#include <cstdint>

namespace shardsim {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration micros(std::int64_t us) { return Duration{us}; }
  static constexpr Duration millis(std::int64_t ms) { return Duration{ms * 1000}; }
  static constexpr Duration seconds(std::int64_t s) { return Duration{s * 1000000}; }
  static constexpr Duration zero() { return Duration{0}; }
  static constexpr Duration max() { return Duration{INT64_MAX / 4}; }

  constexpr std::int64_t us() const { return us_; }
  constexpr std::int64_t ms() const { return us_ / 1000; }

  friend constexpr auto operator<=>(Duration, Duration) = default;
  constexpr Duration operator+(Duration o) const { return Duration{us_ + o.us_}; }
  constexpr Duration operator-(Duration o) const { return Duration{us_ - o.us_}; }
  constexpr Duration operator*(std::int64_t k) const { return Duration{us_ * k}; }
  constexpr Duration operator/(std::int64_t k) const { return Duration{us_ / k}; }
  constexpr std::int64_t operator/(Duration o) const { return us_ / o.us_; }
  constexpr Duration& operator+=(Duration o) { us_ += o.us_; return *this; }
  constexpr Duration& operator-=(Duration o) { us_ -= o.us_; return *this; }

 private:
  constexpr explicit Duration(std::int64_t us) : us_{us} {}
  std::int64_t us_{0};
};

class Time {
 public:
  constexpr Time() = default;
  static constexpr Time from_micros(std::int64_t us) { return Time{us}; }
  static constexpr Time zero() { return Time{0}; }
  static constexpr Time max() { return Time{INT64_MAX / 2}; }

  constexpr std::int64_t us() const { return us_; }

  friend constexpr auto operator<=>(Time, Time) = default;
  constexpr Time operator+(Duration d) const { return Time{us_ + d.us()}; }
  constexpr Time operator-(Duration d) const { return Time{us_ - d.us()}; }
  constexpr Duration operator-(Time o) const { return Duration::micros(us_ - o.us_); }
  constexpr Time& operator+=(Duration d) { us_ += d.us(); return *this; }

 private:
  constexpr explicit Time(std::int64_t us) : us_{us} {}
  std::int64_t us_{0};
};

}  // namespace shardsim
