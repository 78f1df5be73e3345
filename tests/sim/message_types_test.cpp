// Messages by type: the kernel counts every sent message by its first bytes (Simulator::send) and
// message_types names the counters. Probes send byte patterns through a real simulator and the
// report must put each in exactly the expected type, in report order, with counts and bytes that
// sum to the kernel's totals (net.messages, net.bytes).
#include "sim/runner/message_types.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/cluster/protocol.h"
#include "engine/net/reliable_channel.h"
#include "sim/runner/metrics.h"
#include "tests/sim/probe.h"

namespace shardsim::sim {
namespace {

using testing::ms;
using testing::World;

std::string bytes_of(std::initializer_list<int> bytes, std::size_t pad_to = 0) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  if (s.size() < pad_to) s.resize(pad_to, 'x');
  return s;
}

// Sends every message from host a to host b at start, runs, and returns the simulator's stats.
struct Sent {
  std::vector<MessageTypeTraffic> by_type;
  std::uint64_t messages{0};
  std::uint64_t bytes{0};
};
Sent send_all(const std::vector<std::string>& messages) {
  World w;
  const HostId b = w.add("b");
  w.add("a", [&](testing::Probe& p) {
    for (const auto& m : messages) p.send(b, m);
  });
  w.sim.start();
  w.sim.run_until(ms(100));
  return {messages_by_type(w.sim.stats()), w.sim.stats().sent, w.sim.stats().bytes};
}

// type -> (messages, bytes)
std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> as_map(const Sent& s) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> m;
  for (const auto& t : s.by_type) m[t.type] = {t.messages, t.bytes};
  return m;
}

void check_sums(const Sent& s) {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  for (const auto& t : s.by_type) {
    messages += t.messages;
    bytes += t.bytes;
  }
  CHECK(messages == s.messages);
  CHECK(bytes == s.bytes);
}

TEST_CASE("messages by type: each byte pattern lands in its type", "[sim][message_types]") {
  using cluster::Msg;
  const auto envelope = [](Msg m, std::size_t size) {
    return bytes_of({cluster::kEnvelope, static_cast<int>(m)}, size);
  };
  // (message, the type it must be counted as)
  const std::vector<std::pair<std::string, std::string>> cases = {
      {bytes_of({ReliableChannel::kData, 1, 0}, 20), "channel.data"},
      {bytes_of({ReliableChannel::kAck, 4}), "channel.ack"},
      {bytes_of({ReliableChannel::kGapAck, 7}), "channel.gap_ack"},
      {envelope(Msg::heartbeat, 30), "cluster.heartbeat"},
      {envelope(Msg::store_write, 400), "cluster.store_write"},
      {envelope(Msg::ho_commit, 150), "cluster.ho_commit"},
      {envelope(Msg::ghosts, 700), "cluster.ghosts"},
      {envelope(Msg::tunnel_batch, 1200), "cluster.tunnel_batch"},
      {bytes_of({cluster::kClientUp, 3, 0, ReliableChannel::kData}, 9), "client.up"},
      {bytes_of({cluster::kClientDown, 0, ReliableChannel::kAck, 1}), "client.down"},
      // Everything else is "other": empty, unknown first bytes, envelopes without a known type.
      {"", "other"},
      {bytes_of({0x00}), "other"},
      {bytes_of({0x04, 1}), "other"},
      {bytes_of({0x41, 26}), "other"},
      {bytes_of({0x52}), "other"},
      {bytes_of({0xff, 0xff}), "other"},
      {bytes_of({cluster::kEnvelope}), "other"},              // no type byte at all
      {bytes_of({cluster::kEnvelope, 0}, 12), "other"},        // type 0
      {bytes_of({cluster::kEnvelope, 8}, 12), "other"},        // a gap between Msg values
      {bytes_of({cluster::kEnvelope, cluster::kMsgMax + 1}, 12), "other"},
      {bytes_of({cluster::kEnvelope, 0xff}), "other"},
  };
  for (const auto& [message, type] : cases) {
    const int first = message.empty() ? -1 : static_cast<std::uint8_t>(message[0]);
    INFO("first byte " << first << ", " << message.size() << " bytes, expected " << type);
    const Sent s = send_all({message});
    REQUIRE(s.by_type.size() == 1);  // one message: exactly one type, and only it reported
    CHECK(s.by_type[0].type == type);
    CHECK(s.by_type[0].messages == 1);
    CHECK(s.by_type[0].bytes == message.size());
    check_sums(s);
  }

  // All of them at once: the same types, in report order (by code, "other" last).
  std::vector<std::string> all;
  for (const auto& c : cases) all.push_back(c.first);
  const Sent s = send_all(all);
  check_sums(s);
  std::vector<std::string> order;
  for (const auto& t : s.by_type) order.push_back(t.type);
  CHECK(order == std::vector<std::string>{"channel.data", "channel.ack", "channel.gap_ack",
                                          "cluster.heartbeat", "cluster.store_write",
                                          "cluster.ho_commit", "cluster.ghosts",
                                          "cluster.tunnel_batch", "client.up", "client.down",
                                          "other"});
  const auto m = as_map(s);
  CHECK(m.at("other").first == 11);
  CHECK(m.at("cluster.tunnel_batch") == std::pair<std::uint64_t, std::uint64_t>{1, 1200});
}

TEST_CASE("messages by type: every first byte and every envelope type byte, counted once",
          "[sim][message_types]") {
  // Each first byte with two sizes, each envelope type byte once, and an empty message.
  std::vector<std::string> messages{""};
  for (int first = 0; first < 256; ++first) {
    messages.push_back(bytes_of({first}));
    messages.push_back(bytes_of({first, 1}, 5));
  }
  for (int type = 0; type < 256; ++type)
    messages.push_back(bytes_of({cluster::kEnvelope, type}, 3));
  const Sent s = send_all(messages);
  REQUIRE(s.messages == messages.size());
  check_sums(s);
  const auto m = as_map(s);
  // The 0x40 envelope: 28 named Msg values, each once as a 3-byte message, plus the `first` loop's
  // two 0x40 messages (1 byte: no type; 0x40 0x01: a heartbeat).
  std::uint64_t cluster_types = 0;
  for (int type = 1; type < 256; ++type) {
    const auto name = cluster::msg_name(static_cast<cluster::Msg>(type));
    if (name.empty()) continue;
    ++cluster_types;
    const std::string t = "cluster." + std::string{name};
    INFO(t);
    const std::uint64_t extra = type == 1 ? 1 : 0;
    CHECK(m.at(t).first == 1 + extra);
    CHECK(m.at(t).second == 3 + 5 * extra);
  }
  CHECK(cluster_types == 28);
  for (const char* t :
       {"channel.data", "channel.ack", "channel.gap_ack", "client.up", "client.down"}) {
    INFO(t);
    CHECK(m.at(t) == std::pair<std::uint64_t, std::uint64_t>{2, 6});
  }
  // other: the empty message; 250 unnamed first bytes x 2 sizes; the one-byte envelope; 256 - 28
  // envelope type bytes without a Msg.
  CHECK(m.at("other").first == 1 + 250 * 2 + 1 + (256 - 28));
  CHECK(m.at("other").second == 0 + 250 * 6 + 1 + (256 - 28) * 3);
  CHECK(s.by_type.size() == 5 + 28 + 1);
}

TEST_CASE("messages by type: nothing sent, nothing reported", "[sim][message_types]") {
  const Sent s = send_all({});
  CHECK(s.by_type.empty());
  CHECK(s.messages == 0);
}

TEST_CASE("messages by type: the names, their order and their metrics", "[sim][message_types]") {
  const auto& names = message_type_names();
  REQUIRE(names.size() == 3 + 28 + 2 + 1);
  CHECK(names.front() == "channel.data");
  CHECK(names[3] == "cluster.heartbeat");
  CHECK(names[names.size() - 2] == "client.down");
  CHECK(names.back() == "other");
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  // Every cluster::Msg has a type named after it.
  for (int code = 0; code < 256; ++code) {
    const auto msg = cluster::msg_name(static_cast<cluster::Msg>(code));
    if (msg.empty()) continue;
    INFO(msg);
    CHECK(is_message_type("cluster." + std::string{msg}));
  }
  CHECK(cluster::msg_name(cluster::Msg::tunnel_batch) == "tunnel_batch");
  CHECK(cluster::msg_name(static_cast<cluster::Msg>(8)).empty());
  CHECK_FALSE(is_message_type("cluster."));
  CHECK_FALSE(is_message_type("cluster.nonsense"));
  CHECK(message_count_metric("cluster.ghosts") == "net.msg.cluster.ghosts.count");
  CHECK(message_bytes_metric("other") == "net.msg.other.bytes");
  const auto m = split_message_metric("net.msg.cluster.ghosts.bytes");
  REQUIRE(m.has_value());
  CHECK(m->type == "cluster.ghosts");
  CHECK(m->unit == MetricUnit::bytes);
}

}  // namespace
}  // namespace shardsim::sim
