#include "net_model/latency.h"

#include <algorithm>
#include <cmath>

#include "engine/core/assert.h"

namespace shardsim::net {
namespace detail {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / 1.41421356237309504880); }

double normal_quantile(double p) {
  SHARD_ASSERT_MSG(p > 0.0 && p < 1.0, "p={}", p);
  // Work in the lower half only: for p > 0.5, 1 - p is exact (Sterbenz) and the symmetric
  // lower-tail branch keeps full relative precision in the refinement step.
  if (p > 0.5) return -normal_quantile(1.0 - p);

  // P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution function"
  // (2003). Relative error of the rational approximation is below 1.15e-9.
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double p_low = 0.02425;

  double x;
  if (p < p_low) {
    const double q = std::sqrt(-2.0 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  // One step of Halley's method on Phi(x) - p brings the error to about machine precision.
  const double e = normal_cdf(x) - p;
  const double u = e * 2.50662827463100050242 * std::exp(x * x / 2.0);  // e / phi(x)
  return x - u / (1.0 + x * u / 2.0);
}

std::uint64_t mul_hi64(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t a_lo = a & 0xffffffffu;
  const std::uint64_t a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xffffffffu;
  const std::uint64_t b_hi = b >> 32;
  const std::uint64_t lo_lo = a_lo * b_lo;
  const std::uint64_t hi_lo = a_hi * b_lo;
  const std::uint64_t lo_hi = a_lo * b_hi;
  const std::uint64_t hi_hi = a_hi * b_hi;
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffffu) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

}  // namespace detail

namespace {

constexpr double kKnotMaxUs = static_cast<double>(LatencySampler::kLatencyMax.us());

// Probability of knot i, with the two ends capped half an interval inwards (their exact quantiles
// are 0 or infinite).
double knot_probability(std::uint32_t i) {
  constexpr double n = LatencySampler::kIntervals;
  if (i == 0) return 0.5 / n;
  if (i == LatencySampler::kIntervals) return 1.0 - 0.5 / n;
  return static_cast<double>(i) / n;
}

std::int64_t to_knot_us(double us) {
  // Also maps NaN to 0 (both comparisons are false for NaN), though no valid spec produces one.
  if (!(us > 0.0)) return 0;
  if (!(us < kKnotMaxUs)) return LatencySampler::kLatencyMax.us();
  return static_cast<std::int64_t>(std::floor(us + 0.5));
}

}  // namespace

LatencySampler::LatencySampler(const LatencySpec& spec) : spec_{spec} {
  const std::int64_t a = spec.a.us();
  const std::int64_t b = spec.b.us();
  const std::int64_t max = kLatencyMax.us();
  switch (spec.kind) {
    case LatencyKind::constant:
      SHARD_ASSERT_MSG(a >= 0 && a <= max, "constant latency {}us", a);
      return;
    case LatencyKind::uniform:
      SHARD_ASSERT_MSG(a >= 0 && a <= max, "uniform min {}us", a);
      SHARD_ASSERT_MSG(b >= a && b <= max, "uniform max {}us, min {}us", b, a);
      return;
    case LatencyKind::normal: {
      SHARD_ASSERT_MSG(a >= 0 && a <= max, "normal mean {}us", a);
      SHARD_ASSERT_MSG(b >= 0 && b <= max, "normal stddev {}us", b);
      if (b == 0) return;  // degenerate: behaves as constant `a`
      const double mean = static_cast<double>(a);
      const double sd = static_cast<double>(b);
      // Condition on x >= 0: below = P(X < 0), kept = P(X >= 0) computed directly (not 1 - below)
      // so that neither loses precision.
      const double below = detail::normal_cdf(-mean / sd);
      const double kept = detail::normal_cdf(mean / sd);
      knots_us_.resize(kIntervals + 1);
      for (std::uint32_t i = 0; i <= kIntervals; ++i) {
        const double p = knot_probability(i);
        const double lower = below + p * kept;  // P(X <= x) of the untruncated normal
        const double upper = (1.0 - p) * kept;  // P(X > x)
        const double z =
            lower <= 0.5 ? detail::normal_quantile(lower) : -detail::normal_quantile(upper);
        knots_us_[i] = to_knot_us(mean + sd * z);
      }
      break;
    }
    case LatencyKind::lognormal: {
      SHARD_ASSERT_MSG(a > 0, "lognormal median {}us", a);
      SHARD_ASSERT_MSG(b > a && b <= max, "lognormal p99 {}us, median {}us", b, a);
      const double mu = std::log(static_cast<double>(a));
      const double z99 = -detail::normal_quantile(0.01);
      const double sigma = (std::log(static_cast<double>(b)) - mu) / z99;
      knots_us_.resize(kIntervals + 1);
      for (std::uint32_t i = 0; i <= kIntervals; ++i) {
        const double z = detail::normal_quantile(knot_probability(i));
        knots_us_[i] = to_knot_us(std::exp(mu + sigma * z));
      }
      break;
    }
  }
  // Rounding can in principle break monotonicity by one microsecond where the quantile function is
  // nearly flat; a running maximum restores it, and interpolate() relies on it.
  for (std::uint32_t i = 1; i <= kIntervals; ++i) {
    knots_us_[i] = std::max(knots_us_[i], knots_us_[i - 1]);
  }
}

Duration LatencySampler::at_closed_form(std::uint64_t u) const {
  SHARD_ASSERT(knots_us_.empty());
  switch (spec_.kind) {
    case LatencyKind::constant:
      return spec_.a;
    case LatencyKind::uniform: {
      const auto span = static_cast<std::uint64_t>(spec_.b.us() - spec_.a.us()) + 1;
      return spec_.a + Duration::micros(static_cast<std::int64_t>(detail::mul_hi64(u, span)));
    }
    case LatencyKind::normal:  // stddev 0: behaves as constant `a`
      return spec_.a;
    case LatencyKind::lognormal:  // always has a table
      break;
  }
  SHARD_ASSERT(false);
  return Duration::zero();
}

Duration LatencySampler::quantile_ppm(std::uint32_t ppm) const {
  SHARD_ASSERT_MSG(ppm <= 1'000'000, "ppm={}", ppm);
  switch (spec_.kind) {
    case LatencyKind::constant:
      return spec_.a;
    case LatencyKind::uniform: {
      // Same mapping as at(): floor(p * span), capped at the maximum. span * ppm < 2^57.
      const auto span = spec_.b.us() - spec_.a.us() + 1;
      const std::int64_t off = std::min(span * ppm / 1'000'000, span - 1);
      return spec_.a + Duration::micros(off);
    }
    case LatencyKind::normal:
      if (knots_us_.empty()) return spec_.a;
      [[fallthrough]];
    case LatencyKind::lognormal: {
      // ppm / 1e6 as a table position with 32 fraction bits; ppm * 2^44 < 2^64.
      const std::uint64_t pos =
          (static_cast<std::uint64_t>(ppm) << (kIntervalBits + 32)) / 1'000'000;
      return Duration::micros(interpolate(pos));
    }
  }
  SHARD_ASSERT(false);
  return Duration::zero();
}

}  // namespace shardsim::net
