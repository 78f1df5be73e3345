#include "engine/cluster/protocol.h"

#include <xxhash.h>

namespace shardsim::cluster {

const char* msg_name(Msg m) {
  switch (m) {
    case Msg::heartbeat: return "heartbeat";
    case Msg::heartbeat_ack: return "heartbeat_ack";
    case Msg::table_request: return "table_request";
    case Msg::table: return "table";
    case Msg::migration_done: return "migration_done";
    case Msg::migration_done_ack: return "migration_done_ack";
    case Msg::leave: return "leave";
    case Msg::store_cas: return "store_cas";
    case Msg::store_cas_reply: return "store_cas_reply";
    case Msg::store_write: return "store_write";
    case Msg::store_write_reply: return "store_write_reply";
    case Msg::store_restore: return "store_restore";
    case Msg::store_restore_reply: return "store_restore_reply";
    case Msg::ho_request: return "ho_request";
    case Msg::ho_ready: return "ho_ready";
    case Msg::ho_reject: return "ho_reject";
    case Msg::ho_commit: return "ho_commit";
    case Msg::ho_ack: return "ho_ack";
    case Msg::ho_nack: return "ho_nack";
    case Msg::ghosts: return "ghosts";
    case Msg::cell_transfer: return "cell_transfer";
    case Msg::cell_transfer_ack: return "cell_transfer_ack";
    case Msg::tunnel: return "tunnel";
    case Msg::route_update: return "route_update";
    case Msg::hold: return "hold";
    case Msg::ping: return "ping";
    case Msg::pong: return "pong";
    case Msg::tunnel_batch: return "tunnel_batch";
  }
  return "unknown";
}

std::uint64_t Auth::tag(std::span<const std::uint8_t> data, HostId sender) const {
  const std::uint64_t seed = key_ ^ (sender.value() * 0x9E3779B97F4A7C15ULL);
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

void Auth::append_tag(HostId sender, std::vector<std::uint8_t>& out) const {
  const std::uint64_t t = tag(out, sender);
  for (std::size_t i = 0; i < kTagBytes; ++i) out.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
}

Auth::Open Auth::open(std::span<const std::uint8_t> bytes, HostId sender, Msg& type,
                      std::span<const std::uint8_t>& body) const {
  if (bytes.size() < 2 + kTagBytes || bytes[0] != kEnvelope || bytes[1] == 0 || bytes[1] > kMsgMax)
    return Open::malformed;
  const auto data = bytes.first(bytes.size() - kTagBytes);
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < kTagBytes; ++i)
    t |= static_cast<std::uint64_t>(bytes[bytes.size() - kTagBytes + i]) << (8 * i);
  if (t != tag(data, sender)) return Open::bad_tag;
  type = static_cast<Msg>(bytes[1]);
  body = data.subspan(2);
  return Open::ok;
}

}  // namespace shardsim::cluster
