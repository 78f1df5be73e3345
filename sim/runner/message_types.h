// Messages by type: names for the kernel's raw per-type counters (Simulator::Stats::by_first and
// by_envelope), reported as the metrics net.msg.<type>.count and net.msg.<type>.bytes.
//
// Every message sent falls in exactly one type, by its first bytes:
//   channel.data, channel.ack, channel.gap_ack   0x01, 0x02, 0x03: a ReliableChannel frame sent
//                straight between a node and its client (Phase A, or `cluster.cross_node: false`)
//   cluster.<msg>   0x40 then a cluster::Msg byte: the cluster protocol's envelope, by message
//                type, named after the enumerator (cluster.ghosts, cluster.tunnel_batch...)
//   client.up, client.down   0x50, 0x51: a client's frame to its gateway, a gateway's to a client
//   other        anything else: an empty message, an unknown first byte, an envelope whose type
//                byte names no cluster::Msg (or that has none)
// Types are reported in that order (by code) and only when they occurred in the run. They are
// counted in Simulator::send where net.messages is, so the counts sum to net.messages and the
// bytes to net.bytes. A frame inside another message is not counted again: in a cluster run the
// client's channel frames travel inside client.up / client.down and cluster.tunnel_batch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/kernel/simulator.h"

namespace shardsim::sim {

struct MessageTypeTraffic {
  std::string type;  // e.g. "cluster.ghosts"
  std::uint64_t messages{0};
  std::uint64_t bytes{0};
};

// The types that occurred (at least one message), in report order.
std::vector<MessageTypeTraffic> messages_by_type(const Simulator::Stats& stats);

// Every type, in report order: what net.msg.<type>.* may name.
const std::vector<std::string>& message_type_names();
bool is_message_type(std::string_view type);

// The metric names of a type.
std::string message_count_metric(std::string_view type);  // net.msg.<type>.count
std::string message_bytes_metric(std::string_view type);  // net.msg.<type>.bytes

}  // namespace shardsim::sim
