// Statistical tests of LatencySampler: with a fixed seed, 100k samples of each distribution must
// have the configured median and p99 (within 5%). Expected quantiles are computed here
// independently of the sampler's table (bisection on std::erfc), so a wrong table or a wrong
// interpolation fails.
#include "net_model/latency.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

namespace shardsim::net {
namespace {

constexpr std::uint64_t kSeed = 20240601;
constexpr int kSamples = 100'000;

// Reference standard normal quantile by bisection on the CDF; slow but obviously right.
double reference_z(double p) {
  double lo = -40.0;
  double hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

// Quantile of a normal(mean, sd) conditioned on x >= 0.
double truncated_normal_quantile(double mean, double sd, double p) {
  const double below = 0.5 * std::erfc(mean / sd / std::sqrt(2.0));
  return mean + sd * reference_z(below + p * (1.0 - below));
}

std::vector<std::int64_t> draw(const LatencySpec& spec, std::uint64_t seed = kSeed) {
  const LatencySampler sampler{spec};
  Rng rng = Rng::stream(seed, "test.latency");
  std::vector<std::int64_t> out;
  out.reserve(kSamples);
  for (int i = 0; i < kSamples; ++i) out.push_back(sampler.sample(rng).us());
  return out;
}

// Empirical quantile: the smallest sample with at least p of the samples at or below it.
double empirical(std::vector<std::int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return static_cast<double>(v[idx]);
}

void require_within(double measured, double expected, double rel) {
  INFO("measured " << measured << " expected " << expected << " tolerance " << rel * 100 << "%");
  REQUIRE(std::abs(measured - expected) <= rel * expected);
}

LatencySpec spec(LatencyKind kind, Duration a, Duration b) { return LatencySpec{kind, a, b}; }

}  // namespace

TEST_CASE("latency: normal_quantile matches reference values", "[net_model][latency]") {
  // Published values of the standard normal quantile function.
  CHECK(detail::normal_quantile(0.5) == Approx(0.0).margin(1e-15));
  CHECK(detail::normal_quantile(0.975) == Approx(1.959963984540054).epsilon(1e-13));
  CHECK(detail::normal_quantile(0.99) == Approx(2.3263478740408408).epsilon(1e-13));
  CHECK(detail::normal_quantile(0.001) == Approx(-3.090232306167813).epsilon(1e-13));
  CHECK(detail::normal_quantile(1e-9) == Approx(-5.997807015007686).epsilon(1e-12));
  CHECK(detail::normal_quantile(0.3) == Approx(-0.5244005127080407).epsilon(1e-13));
  for (double p = 0.0005; p < 1.0; p += 0.0173) {
    INFO("p=" << p);
    CHECK(detail::normal_quantile(p) == Approx(reference_z(p)).margin(1e-12));
  }
}

TEST_CASE("latency: mul_hi64 is the high half of the 128-bit product", "[net_model][latency]") {
  CHECK(detail::mul_hi64(0, ~0ULL) == 0);
  CHECK(detail::mul_hi64(~0ULL, ~0ULL) == ~0ULL - 1);
  CHECK(detail::mul_hi64(1ULL << 63, 4) == 2);
  CHECK(detail::mul_hi64(0x123456789abcdef0ULL, 0x0fedcba987654321ULL) == 0x0121fa00ad77d742ULL);
}

TEST_CASE("latency: constant always returns the value", "[net_model][latency]") {
  const auto samples = draw(spec(LatencyKind::constant, Duration::millis(3), Duration::zero()));
  REQUIRE(std::all_of(samples.begin(), samples.end(), [](std::int64_t us) { return us == 3000; }));
  const LatencySampler s{spec(LatencyKind::constant, Duration::millis(3), Duration::zero())};
  CHECK(s.median() == Duration::millis(3));
  CHECK(s.quantile_ppm(990'000) == Duration::millis(3));
}

TEST_CASE("latency: uniform 1-5ms has the configured median and p99", "[net_model][latency]") {
  const LatencySpec u = spec(LatencyKind::uniform, Duration::millis(1), Duration::millis(5));
  const auto samples = draw(u);
  // Integer microseconds uniform on [1000, 5000]: q(p) = 1000 + floor(p * 4001).
  require_within(empirical(samples, 0.5), 3000.0, 0.05);
  require_within(empirical(samples, 0.99), 4960.0, 0.05);
  const auto [lo, hi] = std::minmax_element(samples.begin(), samples.end());
  CHECK(*lo == 1000);  // both ends are reachable, nothing escapes them
  CHECK(*hi == 5000);
  const LatencySampler s{u};
  CHECK(s.median() == Duration::micros(3000));
  CHECK(s.quantile_ppm(990'000) == Duration::micros(4960));
  CHECK(s.quantile_ppm(1'000'000) == Duration::micros(5000));
}

TEST_CASE("latency: normal 3ms sd 1ms has the configured median and p99", "[net_model][latency]") {
  const LatencySpec n = spec(LatencyKind::normal, Duration::millis(3), Duration::millis(1));
  const auto samples = draw(n);
  const double median = truncated_normal_quantile(3000.0, 1000.0, 0.5);  // ~3001.7us
  const double p99 = truncated_normal_quantile(3000.0, 1000.0, 0.99);    // ~5326.6us
  require_within(empirical(samples, 0.5), median, 0.05);
  require_within(empirical(samples, 0.99), p99, 0.05);
  // The table itself is much tighter than the sampling noise.
  const LatencySampler s{n};
  require_within(static_cast<double>(s.median().us()), median, 0.001);
  require_within(static_cast<double>(s.quantile_ppm(990'000).us()), p99, 0.001);
  REQUIRE(*std::min_element(samples.begin(), samples.end()) >= 0);
}

TEST_CASE("latency: lognormal median 2ms p99 20ms has the configured median and p99",
          "[net_model][latency]") {
  const LatencySpec ln = spec(LatencyKind::lognormal, Duration::millis(2), Duration::millis(20));
  const auto samples = draw(ln);
  require_within(empirical(samples, 0.5), 2000.0, 0.05);
  require_within(empirical(samples, 0.99), 20000.0, 0.05);
  const LatencySampler s{ln};
  require_within(static_cast<double>(s.median().us()), 2000.0, 0.001);
  require_within(static_cast<double>(s.quantile_ppm(990'000).us()), 20000.0, 0.001);
}

TEST_CASE("latency: normal truncation conditions on x >= 0 instead of clamping",
          "[net_model][latency]") {
  // Mean 1ms, sd 2ms: 31% of the untruncated mass is negative. Clamping would put it all at 0 and
  // make the median 1000us; conditioning gives no mass at 0 and a median of about 1792us.
  const LatencySpec n = spec(LatencyKind::normal, Duration::millis(1), Duration::millis(2));
  const auto samples = draw(n);
  REQUIRE(*std::min_element(samples.begin(), samples.end()) >= 0);
  const auto zeros = std::count(samples.begin(), samples.end(), 0);
  CHECK(zeros < kSamples / 1000);
  require_within(empirical(samples, 0.5), truncated_normal_quantile(1000.0, 2000.0, 0.5), 0.05);
  require_within(empirical(samples, 0.99), truncated_normal_quantile(1000.0, 2000.0, 0.99), 0.05);
}

TEST_CASE("latency: the top interval is capped at q(1 - 1/8192)", "[net_model][latency]") {
  const LatencySpec ln = spec(LatencyKind::lognormal, Duration::millis(2), Duration::millis(20));
  const LatencySampler s{ln};
  const double sigma = std::log(10.0) / reference_z(0.99);
  const double cap = 2000.0 * std::exp(sigma * reference_z(1.0 - 1.0 / 8192.0));
  require_within(static_cast<double>(s.quantile_ppm(1'000'000).us()), cap, 0.001);
  CHECK(s.at(~0ULL) <= s.quantile_ppm(1'000'000));
  CHECK(s.at(0) == s.quantile_ppm(0));
  CHECK(s.at(0) > Duration::zero());  // bottom capped at q(1/8192), not 0
  const auto samples = draw(ln);
  CHECK(*std::max_element(samples.begin(), samples.end()) <= s.quantile_ppm(1'000'000).us());
}

TEST_CASE("latency: samples are monotone in the draw", "[net_model][latency]") {
  for (const LatencySpec& sp :
       {spec(LatencyKind::uniform, Duration::millis(1), Duration::millis(5)),
        spec(LatencyKind::normal, Duration::millis(3), Duration::millis(1)),
        spec(LatencyKind::lognormal, Duration::millis(2), Duration::millis(20))}) {
    const LatencySampler s{sp};
    Duration previous = s.at(0);
    for (std::uint64_t i = 1; i <= 100'000; ++i) {
      const Duration d = s.at(i * (~0ULL / 100'000));
      REQUIRE(d >= previous);
      previous = d;
    }
  }
}

TEST_CASE("latency: same seed gives the same samples, another seed different ones",
          "[net_model][latency]") {
  const LatencySpec ln = spec(LatencyKind::lognormal, Duration::millis(2), Duration::millis(20));
  CHECK(draw(ln, 1) == draw(ln, 1));
  CHECK(draw(ln, 1) != draw(ln, 2));
}

}  // namespace shardsim::net
