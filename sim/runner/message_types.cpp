#include "sim/runner/message_types.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "engine/cluster/protocol.h"
#include "engine/net/reliable_channel.h"
#include "sim/runner/metrics.h"

namespace shardsim::sim {
namespace {

using Stats = Simulator::Stats;
using Traffic = Stats::Traffic;

// The type of a first byte other than the envelope's, or "" if it has none (then: other).
std::string_view first_byte_type(std::size_t code) {
  switch (code) {
    case ReliableChannel::kData: return "channel.data";
    case ReliableChannel::kAck: return "channel.ack";
    case ReliableChannel::kGapAck: return "channel.gap_ack";
    case cluster::kClientUp: return "client.up";
    case cluster::kClientDown: return "client.down";
    default: return "";
  }
}

// Calls visit(type, traffic) for every type in report order: by first byte, the envelope's types
// in its place by their second byte, "other" (everything without a type of its own) last.
template <class Visit>
void for_each_type(const Stats& stats, Visit&& visit) {
  Traffic other;
  const auto add_other = [&other](const Traffic& t) {
    other.messages += t.messages;
    other.bytes += t.bytes;
  };
  for (std::size_t first = 0; first < stats.by_first.size(); ++first) {
    if (first == cluster::kEnvelope) {
      for (std::size_t code = 0; code < stats.by_envelope.size(); ++code) {
        const std::string_view msg =
            code < Stats::kNoByte ? cluster::msg_name(static_cast<cluster::Msg>(code)) : "";
        if (msg.empty())
          add_other(stats.by_envelope[code]);
        else
          visit(fmt::format("cluster.{}", msg), stats.by_envelope[code]);
      }
      continue;
    }
    const std::string_view type = first_byte_type(first);
    if (type.empty())
      add_other(stats.by_first[first]);
    else
      visit(std::string{type}, stats.by_first[first]);
  }
  visit(std::string{"other"}, other);
}

}  // namespace

std::vector<MessageTypeTraffic> messages_by_type(const Simulator::Stats& stats) {
  std::vector<MessageTypeTraffic> out;
  for_each_type(stats, [&out](std::string type, const Traffic& t) {
    if (t.messages > 0) out.push_back({std::move(type), t.messages, t.bytes});
  });
  return out;
}

const std::vector<std::string>& message_type_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    const auto none = std::make_unique<Stats>();  // 8 KB: not on the stack
    for_each_type(*none, [&v](std::string type, const Traffic&) { v.push_back(std::move(type)); });
    return v;
  }();
  return names;
}

bool is_message_type(std::string_view type) {
  const auto& names = message_type_names();
  return std::find(names.begin(), names.end(), type) != names.end();
}

std::string message_count_metric(std::string_view type) {
  return fmt::format("{}{}.count", kMessageMetricPrefix, type);
}

std::string message_bytes_metric(std::string_view type) {
  return fmt::format("{}{}.bytes", kMessageMetricPrefix, type);
}

}  // namespace shardsim::sim
