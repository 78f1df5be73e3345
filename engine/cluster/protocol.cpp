#include "engine/cluster/protocol.h"

#include <xxhash.h>

namespace shardsim::cluster {

std::uint64_t Auth::tag(std::span<const std::uint8_t> data, HostId sender) const {
  const std::uint64_t seed = key_ ^ (sender.value() * 0x9E3779B97F4A7C15ULL);
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

void Auth::append_tag(HostId sender, std::vector<std::uint8_t>& out) const {
  const std::uint64_t t = tag(out, sender);
  for (std::size_t i = 0; i < kTagBytes; ++i) out.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
}

void Auth::seal_body(Msg type, std::span<const std::uint8_t> body, HostId sender,
                     std::vector<std::uint8_t>& out) const {
  out.clear();
  out.push_back(kEnvelope);
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), body.begin(), body.end());
  append_tag(sender, out);
}

void Auth::seal_in_place(Msg type, std::span<std::uint8_t> msg, HostId sender) const {
  SHARD_ASSERT(msg.size() >= 2 + kTagBytes);
  msg[0] = kEnvelope;
  msg[1] = static_cast<std::uint8_t>(type);
  const auto data = msg.first(msg.size() - kTagBytes);
  const std::uint64_t t = tag(data, sender);
  for (std::size_t i = 0; i < kTagBytes; ++i)
    msg[data.size() + i] = static_cast<std::uint8_t>(t >> (8 * i));
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
