// Link configuration: how the simulated network treats messages between two hosts.
//
// Probabilities are integers in parts per million (1% = 10'000 ppm); latencies are Durations. A
// LatencySpec is validated by the scenario loader; net_model asserts the invariants below.
#pragma once

#include <cstdint>

#include "engine/core/time.h"

namespace shardsim::net {

enum class LatencyKind : std::uint8_t { constant, uniform, normal, lognormal };

struct LatencySpec {
  LatencyKind kind{LatencyKind::constant};
  // constant: a = value.            uniform: a = min, b = max (a <= b).
  // normal:   a = mean, b = stddev (a >= 0, b >= 0; samples truncated at 0, see latency.h).
  // lognormal: a = median, b = p99 (0 < a < b).
  Duration a{Duration::millis(1)};
  Duration b{Duration::zero()};

  friend bool operator==(const LatencySpec&, const LatencySpec&) = default;
};

struct LinkConfig {
  LatencySpec latency;
  std::uint32_t loss_ppm{0};
  std::uint32_t duplicate_ppm{0};
  // Without reordering a link is FIFO: a message never overtakes an earlier one on the same
  // directed link. With probability reorder_ppm a message skips that clamp and takes extra delay,
  // so later messages can overtake it.
  std::uint32_t reorder_ppm{0};

  friend bool operator==(const LinkConfig&, const LinkConfig&) = default;
};

}  // namespace shardsim::net
