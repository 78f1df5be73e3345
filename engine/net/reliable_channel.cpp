#include "engine/net/reliable_channel.h"

#include <algorithm>

#include "engine/core/assert.h"

namespace shardsim {

bool ReliableChannel::send(std::span<const std::uint8_t> payload, Time now, Transport& transport,
                           HostId peer) {
  if (count_ >= config_.window_max) {
    ++stats_.window_full;
    return false;
  }
  if (count_ == ring_.size()) {
    // Full ring below the window limit: linearize (head at 0) and grow by one slot. Slots keep their
    // payload capacity, so a channel stops allocating once it has seen its peak backlog.
    std::rotate(ring_.begin(), ring_.begin() + head_, ring_.end());
    head_ = 0;
    ring_.emplace_back();
  }
  Pending& p = ring_[(head_ + count_) % ring_.size()];
  ++count_;
  p.seq = next_seq_++;
  p.sent_at = now;
  p.retries = 0;
  p.payload.assign(payload.begin(), payload.end());
  send_frame(p, transport, peer);
  return true;
}

void ReliableChannel::send_frame(const Pending& p, Transport& transport, HostId peer) {
  scratch_.clear();
  {
    wire::Writer w{scratch_, 1 + 2 * wire::Writer::kVarintMax + p.payload.size()};
    w.u8(0x01);
    w.varint(p.seq);
    w.varint(delivered_);
    w.bytes(p.payload);
  }
  transport.send(peer, scratch_);
  ack_owed_ = false;  // piggybacked
  since_ack_ = 0;
}

void ReliableChannel::send_ack(Transport& transport, HostId peer) {
  scratch_.clear();
  {
    wire::Writer w{scratch_, 1 + wire::Writer::kVarintMax};
    w.u8(0x02);
    w.varint(delivered_);
  }
  transport.send(peer, scratch_);
  ack_owed_ = false;
  since_ack_ = 0;
}

void ReliableChannel::flush_ack(Transport& transport, HostId peer) {
  if (ack_owed_) send_ack(transport, peer);
}

void ReliableChannel::on_ack(std::uint64_t ack) {
  while (count_ > 0 && ring_[head_].seq <= ack) {
    head_ = (head_ + 1) % static_cast<std::uint32_t>(ring_.size());
    --count_;
  }
}

Duration ReliableChannel::timeout(std::uint32_t retries) const {
  Duration t = config_.rto;
  for (std::uint32_t i = 0; i < retries && t < config_.rto_max; ++i) t = t * 2;
  return t < config_.rto_max ? t : config_.rto_max;
}

std::uint32_t ReliableChannel::retransmit_due(Time now, Transport& transport, HostId peer) {
  std::uint32_t resent = 0;
  const auto n = static_cast<std::uint32_t>(ring_.size());
  for (std::uint32_t i = 0; i < count_; ++i) {
    Pending& p = ring_[(head_ + i) % n];
    if (now - p.sent_at < timeout(p.retries)) continue;
    p.sent_at = now;
    ++p.retries;
    ++stats_.retransmits;
    ++resent;
    send_frame(p, transport, peer);
  }
  return resent;
}

}  // namespace shardsim
