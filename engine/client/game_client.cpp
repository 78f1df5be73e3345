#include "engine/client/game_client.h"

#include <algorithm>
#include <cstring>

#include "engine/core/assert.h"

namespace shardsim {
namespace {
constexpr std::uint64_t kRetransmitTimer = 1;
constexpr std::uint64_t kActionTimer = 2;
constexpr std::uint64_t kJoinTimer = 3;
constexpr Duration kJoinRetry = Duration::seconds(1);
constexpr std::uint8_t kClientUp = 0x50;    // cluster::kClientUp (the client does not depend on it)
constexpr std::uint8_t kClientDown = 0x51;

using ViewIt = std::vector<GameClient::Seen>::iterator;
// An update list names most of the view (nearly everything in it moves every tick), so the next id
// is usually the next entry or the one after: a few linear steps first, and a binary search only
// for a long gap (a crowd of which few moved). In quickstart a view holds three or four entities,
// and this halves what the searches cost.
constexpr int kLinearSteps = 4;
ViewIt at_or_after(ViewIt first, ViewIt last, EntityId id) {
  for (int k = 0; k < kLinearSteps; ++k, ++first)
    if (first == last || !(first->id < id)) return first;
  return std::lower_bound(first, last, id,
                          [](const GameClient::Seen& s, EntityId v) { return s.id < v; });
}

// A shared scratch also holds the channel's frames; a client's own channel uses its own buffer.
ReliableChannel::Config with_frames(ReliableChannel::Config config, ClientScratch* shared) {
  if (shared != nullptr) config.frame_scratch = &shared->frame;
  return config;
}
}  // namespace

GameClient::GameClient(Env env, HostId server, std::uint64_t player_id, Driver& driver,
                       StreamObserver* observer, ReliableChannel::Config channel,
                       ClientOptions options)
    : env_{env}, server_{server}, via_gateway_{options.via_gateway}, player_id_{player_id},
      driver_{driver}, observer_{observer},
      scratch_{options.scratch != nullptr ? *options.scratch : own_scratch_},
      channel_{with_frames(channel, options.scratch)}, gateway_{*this}, options_{options} {}

void GameClient::GatewayTransport::send(HostId to, std::span<const std::uint8_t> bytes) {
  // kClientUp player chan_epoch frame, written in one go into a buffer that only grows (a Writer
  // would zero-fill its bound and trim on every frame); the send takes the prefix written.
  std::vector<std::uint8_t>& out = c_.scratch_.out;
  const std::size_t max = 1 + 2 * wire::kVarintMax + bytes.size();
  if (out.size() < max) out.resize(max);
  std::uint8_t* p = out.data();
  *p++ = kClientUp;
  p = wire::put_varint(p, c_.player_id_);
  p = wire::put_varint(p, c_.chan_epoch_);
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  p += bytes.size();
  c_.env_.transport.send(to, std::span<const std::uint8_t>{out.data(), p});
}

Transport& GameClient::transport() {
  return via_gateway_ ? static_cast<Transport&>(gateway_) : env_.transport;
}

void GameClient::on_start() {
  spawn_ = driver_.spawn();
  send_join();
  if (options_.action_every > Duration::zero())
    env_.timers.set_timer(env_.clock.now() + options_.action_every, kActionTimer);
}

void GameClient::send(std::span<const std::uint8_t> payload) {
  if (!channel_.send(payload, env_.clock.now(), transport(), server_)) return;  // counted in channel
  arm_retransmit();
}

// A join can be refused (its cell has no owner yet, a stale route): it goes again every second until
// the server's stream shows our own player. A join the server already accepted is refused harmlessly.
void GameClient::send_join() {
  scratch_.bytes.clear();
  wire::encode(wire::Join{player_id_, spawn_}, scratch_.bytes);
  send(scratch_.bytes);
  env_.timers.set_timer(env_.clock.now() + kJoinRetry, kJoinTimer);
}

void GameClient::send_action(std::uint64_t seq) {
  scratch_.bytes.clear();
  wire::encode(wire::Action{seq, 1}, scratch_.bytes);
  send(scratch_.bytes);
}

void GameClient::arm_retransmit() {
  if (retransmit_timer_ || channel_.unacked() == 0) return;
  retransmit_timer_ = env_.timers.set_timer(env_.clock.now() + channel_.config().rto, kRetransmitTimer);
}

void GameClient::on_timer(std::uint64_t tag) {
  if (tag == kJoinTimer) {
    if (!joined_) send_join();
    return;
  }
  if (tag == kActionTimer) {
    // A durable action; and any still unacknowledged after action_resend goes again (the server
    // applies each seq once, in order, so a repeat is harmless).
    const Time now = env_.clock.now();
    pending_actions_.emplace_back(++action_seq_, now);
    send_action(action_seq_);
    for (auto& [seq, sent] : pending_actions_) {
      if (now - sent < options_.action_resend) continue;
      sent = now;
      send_action(seq);
    }
    env_.timers.set_timer(now + options_.action_every, kActionTimer);
    return;
  }
  SHARD_ASSERT(tag == kRetransmitTimer);
  retransmit_timer_ = TimerId{};
  channel_.retransmit_due(env_.clock.now(), transport(), server_);
  arm_retransmit();
}

void GameClient::on_message(HostId from, std::span<const std::uint8_t> bytes) {
  if (from != server_) return;  // not our server: ignore
  std::span<const std::uint8_t> frame = bytes;
  if (via_gateway_) {
    wire::Reader r{bytes};
    const bool down = r.u8() == kClientDown;
    const std::uint64_t epoch = r.varint();
    frame = r.rest();
    if (!r.ok() || !down) {
      ++stats_.decode_errors;
      return;
    }
    if (epoch < chan_epoch_) return;  // the stream before a rebuild: stale
    if (epoch > chan_epoch_) {
      if (chan_epoch_ != 0) {
        // The server rebuilt our stream from durable state: start over, and send again every
        // action it has not acknowledged.
        channel_ = ReliableChannel{channel_.config()};
        view_.clear();
        ++resets_;
        if (observer_ != nullptr) observer_->on_reset(player_id_, env_.clock.now());
        if (retransmit_timer_) env_.timers.cancel(retransmit_timer_);
        retransmit_timer_ = TimerId{};
      }
      chan_epoch_ = epoch;
      if (resets_ > 0) {
        for (auto& [seq, sent] : pending_actions_) {
          sent = env_.clock.now();
          send_action(seq);
        }
      }
    }
  }
  const auto result = channel_.on_frame(frame, transport(), server_,
                                        [&](std::span<const std::uint8_t> p) { apply(p); });
  if (result == ReliableChannel::FrameResult::malformed) ++stats_.decode_errors;
  if (channel_.unacked() == 0 && retransmit_timer_) {
    env_.timers.cancel(retransmit_timer_);
    retransmit_timer_ = TimerId{};
  }
}

void GameClient::apply(std::span<const std::uint8_t> payload) {
  if (!payload.empty() && payload[0] == static_cast<std::uint8_t>(wire::MsgType::action_ack)) {
    wire::ActionAck ack;
    if (!wire::decode(payload, ack) || ack.seq > action_seq_) {
      ++stats_.decode_errors;
      return;
    }
    if (ack.seq > actions_acked_) {
      actions_acked_ = ack.seq;
      if (observer_ != nullptr) observer_->on_actions_acked(player_id_, ack.seq);
    }
    std::erase_if(pending_actions_, [&](const auto& p) { return p.first <= ack.seq; });
    return;
  }
  if (!wire::decode(payload, scratch_.batch)) {
    ++stats_.decode_errors;
    return;
  }
  ++stats_.batches;
  last_tick_ = scratch_.batch.tick;
  const Time now = env_.clock.now();  // a virtual call: once, for the observer and the driver
  if (observer_ != nullptr) observer_->on_batch(player_id_, scratch_.batch, now);
  // Each list is in ascending id order, as is the view: each search starts where the previous one
  // ended. Where our own player ends up is tracked on the way instead of searched for afterwards.
  bool moved = false;    // our player entered or moved
  bool self_in = false;  // ... and is in the view after the batch
  Vec2 self_pos;
  const EntityId self{player_id_};
  auto from = view_.begin();
  for (const auto& e : scratch_.batch.enters) {
    auto it = at_or_after(from, view_.end(), e.id);
    if (it != view_.end() && it->id == e.id) {
      ++stats_.anomalies;
      it->pos = e.pos;
    } else {
      it = view_.insert(it, Seen{e.id, e.pos});
    }
    from = it + 1;
    if (e.id == self) moved = self_in = true, self_pos = e.pos;
  }
  from = view_.begin();
  for (const auto& u : scratch_.batch.updates) {
    // Mostly the very next entry: one comparison, and a search only otherwise.
    auto it = from;
    if (it == view_.end() || it->id != u.id) {
      it = at_or_after(from, view_.end(), u.id);
      if (it == view_.end() || it->id != u.id) {
        ++stats_.anomalies;
        from = it;
        continue;
      }
    }
    from = it + 1;  // the next id is larger
    it->pos = it->pos + u.delta;
    if (u.id == self) moved = self_in = true, self_pos = it->pos;
  }
  from = view_.begin();
  for (const auto& id : scratch_.batch.leaves) {
    auto it = at_or_after(from, view_.end(), id);
    from = it;
    if (it == view_.end() || it->id != id) {
      ++stats_.anomalies;
      continue;
    }
    from = view_.erase(it);
    if (id == self) self_in = false;
  }
  if (!moved) return;
  joined_ = true;
  if (!self_in) return;
  if (auto input = driver_.on_position(self_pos, now)) {
    scratch_.bytes.clear();
    wire::encode(*input, scratch_.bytes);
    ++stats_.inputs;
    send(scratch_.bytes);
  }
}

}  // namespace shardsim
