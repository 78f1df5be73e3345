// ReliableChannel: one direction-pair of a reliable, ordered, deduplicated message stream over an
// unreliable transport (loss, duplication, reordering). Used for client <-> node streams.
//
// Frames:  data 0x01 seq ack payload...   ack 0x02 ack   gap ack 0x03 ack   (varints; seq starts at 1)
// `ack` is cumulative: every seq <= ack arrived. Every data frame piggybacks the sender's current ack.
// A gap ack is an ack sent because a frame beyond ack+1 arrived: ack+1 is late or lost.
//
// Sender: keeps each unacknowledged payload (at most window_max of them; a full window refuses the send
// and the caller decides — the AOI stream, for instance, retries the same diff next tick) and resends
// it when its retransmission timer (rto, doubling per retry up to rto_max) expires. Nothing here owns a
// timer: the owner calls retransmit_due() from its own tick or timer, so a node with thousands of
// channels pays one scan per tick rather than thousands of timer events.
// Fast retransmit: the second gap ack naming the same missing frame resends it at once (once per
// frame), without waiting for its timer. The second, not the first: a frame merely reordered (its
// delay is one more latency draw) has nearly always arrived by the time a later frame of a stream that
// sends once per tick reports the hole again, so one gap ack alone would mostly resend needlessly.
// Receiver: delivers payloads exactly once, in seq order; buffers up to window_max out-of-order frames;
// owes an ack after every `ack_every` in-order frames, sends a gap ack at once for each frame beyond a
// gap, and an ack at once after a duplicate.
//
// Why ack_every 4 and rto 250 ms (ADR 0001): a stream that sends once per 50 ms tick then acks every
// 200 ms, so acks are a quarter of the frames rather than a half (on quickstart 16.6 % fewer messages
// in all), and the timer still fires only after an ack is due; loss is repaired by fast retransmit,
// in about two frame intervals, rather than by the timer.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "engine/core/assert.h"
#include "engine/core/time.h"
#include "engine/runtime/env.h"
#include "engine/wire/buffer.h"

namespace shardsim {

class ReliableChannel {
 public:
  // Frame types (the first byte of every frame).
  static constexpr std::uint8_t kData = 0x01;
  static constexpr std::uint8_t kAck = 0x02;
  static constexpr std::uint8_t kGapAck = 0x03;

  struct Config {
    Duration rto{Duration::millis(250)};
    Duration rto_max{Duration::seconds(2)};
    std::uint32_t window_max{256};
    std::uint32_t ack_every{4};
    // Where frames too large for the stack (a payload beyond Pending::kInline) are built before they
    // go to the transport (which copies them). Channels that never send at the same time — all of
    // one host's — can share one buffer, warm in cache, instead of each touching its own cold one.
    // Not owned; null: the channel's own.
    std::vector<std::uint8_t>* frame_scratch{nullptr};
  };
  struct Stats {
    std::uint64_t retransmits{0};  // fast retransmits included
    std::uint64_t fast_retransmits{0};
    std::uint64_t window_full{0};
    std::uint64_t duplicates{0};
    std::uint64_t malformed{0};
  };
  enum class FrameResult { ok, malformed };

  ReliableChannel() = default;
  explicit ReliableChannel(Config config) : config_{config} {}

  // Sends `payload` reliably to `peer`. False (and counted) if the window is full.
  bool send(std::span<const std::uint8_t> payload, Time now, Transport& transport, HostId peer);
  // The same, for a payload built in place: encode(std::span<std::uint8_t> room) writes at most
  // `payload_max` bytes at room.data() and returns how many. The payload is written once, straight
  // behind the frame header, instead of into a buffer that is copied into the frame. Nothing is
  // encoded if the window is full.
  template <class Encode>
  bool send_encoded(std::size_t payload_max, Time now, Transport& transport, HostId peer,
                    Encode&& encode);
  // Resends every frame whose timer expired. Returns how many were resent. Inline up to the check
  // against the earliest deadline: with a 250 ms rto and a send every tick, a node's scan of a
  // channel usually has nothing to do.
  std::uint32_t retransmit_due(Time now, Transport& transport, HostId peer) {
    if (now < due_min_) return 0;
    return retransmit_scan(now, transport, peer);
  }
  // Sends a standalone ack if one is owed. Inline: a node calls it for every session every tick,
  // and one is rarely owed (the stream's own frames carry the ack), so most calls are one test.
  void flush_ack(Transport& transport, HostId peer) {
    if (ack_owed_) send_ack(transport, peer);
  }
  bool ack_owed() const { return ack_owed_; }
  // Where the next send will write its frame (null if the ring must grow first): a sender that
  // knows which channel it serves next can prefetch it.
  const void* next_slot() const { return count_ < ring_.size() ? &ring_[slot(count_)] : nullptr; }
  const Config& config() const { return config_; }
  std::uint32_t unacked() const { return count_; }
  const Stats& stats() const { return stats_; }

  // The whole channel state (sequence numbers, unacknowledged frames, out-of-order buffer) as bytes,
  // so a stream can move to another host with its owner (cross-node handover) and continue there with
  // no gap and no duplicate. Unacked frames restart their retransmission timers at `now`.
  void save(std::vector<std::uint8_t>& out) const;
  bool load(std::span<const std::uint8_t> in, Time now);  // false (channel unchanged) if malformed

  // Processes one received frame; calls deliver(std::span<const uint8_t>) for each payload that is now
  // in order. Malformed frames are rejected and counted, never crash.
  template <class Deliver>
  FrameResult on_frame(std::span<const std::uint8_t> bytes, Transport& transport, HostId peer,
                       Deliver&& deliver);

 private:
  // An unacknowledged frame's payload. Most (an AOI batch of a few entities, an ack'd action) fit
  // inline, in the ring slot the send writes anyway: one cache line touched per send instead of a
  // second heap block per slot. Larger ones go to `large`, which keeps its capacity.
  struct Pending {
    static constexpr std::size_t kInline = 48;
    std::uint64_t seq{0};
    Time sent_at;
    std::uint32_t retries{0};
    std::uint32_t size{0};
    std::array<std::uint8_t, kInline> small{};
    std::vector<std::uint8_t> large;
    void assign(std::span<const std::uint8_t> bytes) {
      size = static_cast<std::uint32_t>(bytes.size());
      if (bytes.size() <= kInline) {
        std::copy(bytes.begin(), bytes.end(), small.begin());
      } else {
        large.assign(bytes.begin(), bytes.end());
      }
    }
    std::span<const std::uint8_t> payload() const {
      return {size <= kInline ? small.data() : large.data(), size};
    }
  };
  // A data frame's header: type, seq, ack.
  static constexpr std::size_t kHeaderMax = 1 + 2 * wire::kVarintMax;
  // The largest frame send_encoded() builds on the stack; larger ones use frame_buffer().
  static constexpr std::size_t kStackFrameMax = 1024;
  // The next slot of the ring, its seq assigned and its timer started; null (counted) if the window
  // is full. Inline: it is a few stores on every send.
  Pending* push_pending(Time now) {
    if (count_ >= config_.window_max) {
      ++stats_.window_full;
      return nullptr;
    }
    if (count_ == ring_.size()) grow_ring();
    Pending& p = ring_[slot(count_)];
    ++count_;
    p.seq = next_seq_++;
    p.sent_at = now;
    p.retries = 0;
    due_min_ = std::min(due_min_, now + timeout(0));
    return &p;
  }
  // Full ring below the window limit: linearize (head at 0) and grow by one slot. Slots keep their
  // payload capacity, so a channel stops allocating once it has seen its peak backlog.
  void grow_ring();
  // Writes a data frame's header for seq at q (room for kHeaderMax); returns its end.
  std::uint8_t* put_header(std::uint8_t* q, std::uint64_t seq) const {
    *q++ = kData;
    q = wire::put_varint(q, seq);
    return wire::put_varint(q, delivered_);
  }
  std::uint32_t retransmit_scan(Time now, Transport& transport, HostId peer);
  // Drops the frames `ack` covers. Inline up to the test whether it covers any: a data frame carries
  // an ack whether or not anything is outstanding, and a client, which sends little, mostly has
  // nothing outstanding.
  void on_ack(std::uint64_t ack) {
    if (count_ > 0 && ring_[head_].seq <= ack) drop_acked(ack);
  }
  void drop_acked(std::uint64_t ack);
  void on_gap_ack(std::uint64_t ack, Transport& transport, HostId peer);
  void send_frame(const Pending& p, Transport& transport, HostId peer);
  void send_ack(Transport& transport, HostId peer, std::uint8_t type = kAck);
  // Inline so that push_pending's timeout(0) folds to a comparison.
  Duration timeout(std::uint32_t retries) const {
    Duration t = config_.rto;
    for (std::uint32_t i = 0; i < retries && t < config_.rto_max; ++i) t = t * 2;
    return t < config_.rto_max ? t : config_.rto_max;
  }
  // Index of the i-th unacked frame (i <= count_ < 2 * ring size): a compare instead of the modulo,
  // which is a 64-bit division on every send and every ack.
  std::uint32_t slot(std::uint32_t i) const {
    const std::uint32_t k = head_ + i;
    const auto n = static_cast<std::uint32_t>(ring_.size());
    return k >= n ? k - n : k;
  }

  Config config_;
  // Sender state: ring of unacked frames in seq order.
  std::vector<Pending> ring_;
  std::uint32_t head_{0};
  std::uint32_t count_{0};
  std::uint64_t next_seq_{1};
  // Gap acks received for the frame at the head of the ring (reset when the head moves); the second
  // resends it.
  std::uint32_t gap_acks_{0};
  // Receiver state.
  std::uint64_t delivered_{0};  // highest seq delivered in order (= our cumulative ack)
  std::map<std::uint64_t, std::vector<std::uint8_t>> out_of_order_;
  std::uint32_t since_ack_{0};
  bool ack_owed_{false};
  // At most the earliest retransmission deadline (sent_at + timeout(retries)) of any unacked frame:
  // lowered by every send, made exact again by every scan, and left alone by acks (removing frames
  // only raises the true minimum). Before it, retransmit_due() provably has nothing to resend.
  // Placed after the receiver state so that its cache lines (a client reads them on every
  // delivery) stay as they were.
  Time due_min_{Time::max()};
  std::vector<std::uint8_t>& frame_buffer() {
    return config_.frame_scratch != nullptr ? *config_.frame_scratch : scratch_;
  }
  std::vector<std::uint8_t> scratch_;
  Stats stats_;
};

template <class Encode>
bool ReliableChannel::send_encoded(std::size_t payload_max, Time now, Transport& transport,
                                   HostId peer, Encode&& encode) {
  Pending* p = push_pending(now);
  if (p == nullptr) return false;
  std::array<std::uint8_t, kStackFrameMax> stack;  // not zero-filled: only what is written is sent
  std::uint8_t* frame = stack.data();
  if (kHeaderMax + payload_max > stack.size()) {
    std::vector<std::uint8_t>& f = frame_buffer();
    f.resize(kHeaderMax + payload_max);
    frame = f.data();
  }
  std::uint8_t* q = put_header(frame, p->seq);
  const std::size_t n = encode(std::span<std::uint8_t>{q, payload_max});
  SHARD_ASSERT(n <= payload_max);
  p->assign({q, n});
  transport.send(peer, {frame, q + n});
  ack_owed_ = false;  // piggybacked
  since_ack_ = 0;
  return true;
}

template <class Deliver>
ReliableChannel::FrameResult ReliableChannel::on_frame(std::span<const std::uint8_t> bytes,
                                                       Transport& transport, HostId peer,
                                                       Deliver&& deliver) {
  wire::Reader r{bytes};
  const std::uint8_t type = r.u8();
  if (type == kAck || type == kGapAck) {
    const std::uint64_t ack = r.varint();
    if (!r.ok() || !r.at_end() || ack >= next_seq_) return ++stats_.malformed, FrameResult::malformed;
    on_ack(ack);
    if (type == kGapAck) on_gap_ack(ack, transport, peer);
    return FrameResult::ok;
  }
  if (type != kData) return ++stats_.malformed, FrameResult::malformed;
  const std::uint64_t seq = r.varint();
  const std::uint64_t ack = r.varint();
  if (!r.ok() || seq == 0 || ack >= next_seq_) return ++stats_.malformed, FrameResult::malformed;
  // Beyond the receive window no correct peer can send: reject the frame whole, its ack included.
  if (seq > delivered_ && seq - delivered_ > config_.window_max)
    return ++stats_.malformed, FrameResult::malformed;
  const std::span<const std::uint8_t> payload = r.rest();
  on_ack(ack);
  if (seq <= delivered_ || out_of_order_.count(seq) != 0) {
    ++stats_.duplicates;
    send_ack(transport, peer);  // the peer evidently missed our ack
    return FrameResult::ok;
  }
  if (seq > delivered_ + 1) {
    out_of_order_.emplace(seq, std::vector<std::uint8_t>(payload.begin(), payload.end()));
    send_ack(transport, peer, kGapAck);  // a gap: tell the sender early
    return FrameResult::ok;
  }
  delivered_ = seq;
  deliver(payload);
  while (!out_of_order_.empty() && out_of_order_.begin()->first == delivered_ + 1) {
    auto node = out_of_order_.extract(out_of_order_.begin());
    delivered_ = node.key();
    deliver(std::span<const std::uint8_t>{node.mapped()});
  }
  ack_owed_ = true;
  if (++since_ack_ >= config_.ack_every) send_ack(transport, peer);
  return FrameResult::ok;
}

}  // namespace shardsim
