#include "engine/client/game_client.h"

#include <algorithm>

#include "engine/core/assert.h"

namespace shardsim {
namespace {
constexpr std::uint64_t kRetransmitTimer = 1;

auto find(std::vector<GameClient::Seen>& view, EntityId id) {
  return std::lower_bound(view.begin(), view.end(), id,
                          [](const GameClient::Seen& s, EntityId v) { return s.id < v; });
}
}  // namespace

GameClient::GameClient(Env env, HostId server, std::uint64_t player_id, Driver& driver,
                       StreamObserver* observer, ReliableChannel::Config channel)
    : env_{env}, server_{server}, player_id_{player_id}, driver_{driver}, observer_{observer},
      channel_{channel} {}

void GameClient::on_start() {
  bytes_.clear();
  wire::encode(wire::Join{player_id_, driver_.spawn()}, bytes_);
  send(bytes_);
}

void GameClient::send(std::span<const std::uint8_t> payload) {
  if (!channel_.send(payload, env_.clock.now(), env_.transport, server_)) return;  // counted in channel
  arm_retransmit();
}

void GameClient::arm_retransmit() {
  if (retransmit_timer_ || channel_.unacked() == 0) return;
  retransmit_timer_ = env_.timers.set_timer(env_.clock.now() + channel_.config().rto, kRetransmitTimer);
}

void GameClient::on_timer(std::uint64_t tag) {
  SHARD_ASSERT(tag == kRetransmitTimer);
  retransmit_timer_ = TimerId{};
  channel_.retransmit_due(env_.clock.now(), env_.transport, server_);
  arm_retransmit();
}

void GameClient::on_message(HostId from, std::span<const std::uint8_t> bytes) {
  if (from != server_) return;  // not our server: ignore
  const auto result = channel_.on_frame(bytes, env_.transport, server_,
                                        [&](std::span<const std::uint8_t> p) { apply(p); });
  if (result == ReliableChannel::FrameResult::malformed) ++stats_.decode_errors;
  if (channel_.unacked() == 0 && retransmit_timer_) {
    env_.timers.cancel(retransmit_timer_);
    retransmit_timer_ = TimerId{};
  }
}

void GameClient::apply(std::span<const std::uint8_t> payload) {
  if (!wire::decode(payload, batch_)) {
    ++stats_.decode_errors;
    return;
  }
  ++stats_.batches;
  last_tick_ = batch_.tick;
  if (observer_ != nullptr) observer_->on_batch(player_id_, batch_, env_.clock.now());
  bool moved = false;
  const EntityId self{player_id_};
  for (const auto& e : batch_.enters) {
    auto it = find(view_, e.id);
    if (it != view_.end() && it->id == e.id) {
      ++stats_.anomalies;
      it->pos = e.pos;
    } else {
      view_.insert(it, Seen{e.id, e.pos});
    }
    moved |= e.id == self;
  }
  for (const auto& u : batch_.updates) {
    auto it = find(view_, u.id);
    if (it == view_.end() || it->id != u.id) {
      ++stats_.anomalies;
      continue;
    }
    it->pos = it->pos + u.delta;
    moved |= u.id == self;
  }
  for (const auto& id : batch_.leaves) {
    auto it = find(view_, id);
    if (it == view_.end() || it->id != id) {
      ++stats_.anomalies;
      continue;
    }
    view_.erase(it);
  }
  if (!moved) return;
  auto it = find(view_, self);
  if (it == view_.end() || it->id != self) return;
  if (auto input = driver_.on_position(it->pos, env_.clock.now())) {
    bytes_.clear();
    wire::encode(*input, bytes_);
    ++stats_.inputs;
    send(bytes_);
  }
}

}  // namespace shardsim
