// Reading a latency: `2ms` (constant) or a distribution map such as
// {distribution: lognormal, median: 2ms, p99: 20ms}. Shared by `network.latency` and the `latency`
// of a `link` fault, so both accept exactly the same text and report the same messages.
//
// Internal to sim/scenario. Like the rest of the reading layer it never throws and never stops at
// the first problem: every mistake goes to Diagnostics and the result is nullopt.
#pragma once

#include <optional>

#include "net_model/link.h"
#include "sim/scenario/yaml_reader.h"

namespace shardsim::scenario::detail {

// Every latency parameter lies in [0, kMaxLatency]; a lognormal median is above zero and below
// its p99; a uniform max is not below its min; each distribution takes exactly its own two keys.
std::optional<net::LatencySpec> read_latency(Diagnostics& diag, const Entry& e);

}  // namespace shardsim::scenario::detail
