#include "engine/net/reliable_channel.h"

#include <algorithm>

#include "engine/core/assert.h"

namespace shardsim {

// Out of line: it is rare, and inlined in push_pending its registers cost every send a save and
// restore of several.
[[gnu::noinline]] void ReliableChannel::grow_ring() {
  std::rotate(ring_.begin(), ring_.begin() + head_, ring_.end());
  head_ = 0;
  ring_.emplace_back();
}

bool ReliableChannel::send(std::span<const std::uint8_t> payload, Time now, Transport& transport,
                           HostId peer) {
  Pending* p = push_pending(now);
  if (p == nullptr) return false;
  p->assign(payload);
  send_frame(*p, transport, peer);
  return true;
}

void ReliableChannel::send_frame(const Pending& p, Transport& transport, HostId peer) {
  // Most frames are built on the stack: the header is at most kHeaderMax bytes, so the room is
  // static and there is no buffer to grow, zero-fill and trim (the transport copies the frame
  // anyway). A payload beyond Pending::kInline goes to frame_buffer(), which only grows.
  std::array<std::uint8_t, kHeaderMax + Pending::kInline> stack;
  std::uint8_t* frame = stack.data();
  if (p.size > Pending::kInline) {
    std::vector<std::uint8_t>& f = frame_buffer();
    if (f.size() < kHeaderMax + p.size) f.resize(kHeaderMax + p.size);
    frame = f.data();
  }
  std::uint8_t* q = put_header(frame, p.seq);
  q = std::copy_n(p.payload().data(), p.size, q);
  transport.send(peer, {frame, q});
  ack_owed_ = false;  // piggybacked
  since_ack_ = 0;
}

void ReliableChannel::send_ack(Transport& transport, HostId peer, std::uint8_t type) {
  std::array<std::uint8_t, 1 + wire::kVarintMax> buf;
  buf[0] = type;
  const std::uint8_t* end = wire::put_varint(buf.data() + 1, delivered_);
  transport.send(peer, {buf.data(), end});
  ack_owed_ = false;
  since_ack_ = 0;
}

void ReliableChannel::drop_acked(std::uint64_t ack) {
  while (count_ > 0 && ring_[head_].seq <= ack) {
    head_ = slot(1);
    --count_;
    gap_acks_ = 0;
  }
}

void ReliableChannel::on_gap_ack(std::uint64_t ack, Transport& transport, HostId peer) {
  // After on_ack(ack), the head is ack + 1 unless the gap ack is stale (a later ack already moved
  // the head past the hole) or names nothing we sent.
  if (count_ == 0 || ring_[head_].seq != ack + 1) return;
  if (++gap_acks_ != 2) return;
  // The timer is left as it was: if this copy is lost too, the timer repairs it as before.
  ++stats_.retransmits;
  ++stats_.fast_retransmits;
  send_frame(ring_[head_], transport, peer);
}

std::uint32_t ReliableChannel::retransmit_scan(Time now, Transport& transport, HostId peer) {
  std::uint32_t resent = 0;
  Time due_min = Time::max();
  for (std::uint32_t i = 0; i < count_; ++i) {
    Pending& p = ring_[slot(i)];
    const Duration t = timeout(p.retries);
    if (now - p.sent_at < t) {
      due_min = std::min(due_min, p.sent_at + t);
      continue;
    }
    p.sent_at = now;
    ++p.retries;
    ++stats_.retransmits;
    ++resent;
    send_frame(p, transport, peer);
    due_min = std::min(due_min, now + timeout(p.retries));
  }
  due_min_ = due_min;
  return resent;
}

void ReliableChannel::save(std::vector<std::uint8_t>& out) const {
  std::size_t size = 5 * wire::Writer::kVarintMax;
  for (std::uint32_t i = 0; i < count_; ++i)
    size += 2 * wire::Writer::kVarintMax + ring_[slot(i)].size;
  for (const auto& [seq, payload] : out_of_order_) size += 2 * wire::Writer::kVarintMax + payload.size();
  wire::Writer w{out, size};
  w.varint(next_seq_);
  w.varint(delivered_);
  w.varint(count_);
  for (std::uint32_t i = 0; i < count_; ++i) {
    const Pending& p = ring_[slot(i)];
    w.varint(p.seq);
    w.varint(p.size);
    w.bytes(p.payload());
  }
  w.varint(out_of_order_.size());
  for (const auto& [seq, payload] : out_of_order_) {
    w.varint(seq);
    w.varint(payload.size());
    w.bytes(payload);
  }
}

bool ReliableChannel::load(std::span<const std::uint8_t> in, Time now) {
  wire::Reader r{in};
  const std::uint64_t next_seq = r.varint();
  const std::uint64_t delivered = r.varint();
  const std::uint64_t count = r.varint_max(config_.window_max);
  std::vector<Pending> ring;
  std::uint64_t expect = next_seq - count;
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    Pending p;
    p.seq = r.varint();
    const std::uint64_t n = r.varint_max(r.remaining());
    if (!r.ok() || p.seq != expect++) return false;
    const auto rest = r.rest();
    p.assign(rest.first(n));
    r = wire::Reader{rest.subspan(n)};
    p.sent_at = now;
    ring.push_back(std::move(p));
  }
  std::map<std::uint64_t, std::vector<std::uint8_t>> ooo;
  const std::uint64_t n_ooo = r.varint_max(config_.window_max);
  for (std::uint64_t i = 0; i < n_ooo && r.ok(); ++i) {
    const std::uint64_t seq = r.varint();
    const std::uint64_t n = r.varint_max(r.remaining());
    if (!r.ok() || seq <= delivered) return false;
    const auto rest = r.rest();
    ooo.emplace(seq, std::vector<std::uint8_t>(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n)));
    r = wire::Reader{rest.subspan(n)};
  }
  if (!r.ok() || !r.at_end() || next_seq == 0 || count >= next_seq) return false;
  ring_ = std::move(ring);
  head_ = 0;
  count_ = static_cast<std::uint32_t>(count);
  next_seq_ = next_seq;
  delivered_ = delivered;
  out_of_order_ = std::move(ooo);
  since_ack_ = 0;
  gap_acks_ = 0;
  ack_owed_ = delivered > 0;  // tell the peer where we are from the new host
  due_min_ = now + timeout(0);  // every loaded frame restarts its timer at `now`
  return true;
}

}  // namespace shardsim
