#include "engine/cluster/gateway.h"

#include <algorithm>
#include <cstring>

#include "engine/net/reliable_channel.h"
#include "engine/wire/messages.h"

namespace shardsim::cluster {
namespace {
constexpr std::uint64_t kPollTimer = 1;
constexpr std::uint64_t kUpTimer = 2;
}

Gateway::Gateway(Env env, GatewayConfig config, ClusterObserver* observer)
    : env_{env}, config_{std::move(config)}, observer_{observer}, auth_{config_.auth_key} {
  routes_.resize(config_.max_players);
  last_pong_.assign(config_.nodes.size(), Time::zero());
  up_.resize(config_.nodes.size());
}

void Gateway::on_start() {
  // Nodes count as healthy until they miss their first checks.
  for (auto& t : last_pong_) t = env_.clock.now();
  on_timer(kPollTimer);
}

template <class M>
void Gateway::send(HostId to, Msg type, M& m) {
  auth_.seal(type, m, env_.transport.self(), out_);
  env_.transport.send(to, out_);
}

void Gateway::queue_up(std::uint32_t node, TunnelView& t) {
  if (config_.uplink_flush == Duration::zero()) {
    send(config_.nodes[node - 1], Msg::tunnel, t);
    return;
  }
  auto& batch = up_[node - 1];
  // An item never splits; a batch that would outgrow a datagram goes first.
  if (!batch.empty() && batch.body_size() + t.frame.size() + 32 > kUpBatchBytes) flush_up(node);
  batch.add(t.player, t.gen, t.chan_epoch, t.frame);
  if (!up_armed_) {
    up_armed_ = true;
    env_.timers.set_timer(env_.clock.now() + config_.uplink_flush, kUpTimer);
  }
}

void Gateway::flush_up(std::uint32_t node) {
  auto& batch = up_[node - 1];
  if (batch.empty()) return;
  env_.transport.send(config_.nodes[node - 1], batch.seal(auth_, env_.transport.self()));
}

void Gateway::flush_up_all() {
  for (std::uint32_t n = 1; n <= up_.size(); ++n) flush_up(n);
}

void Gateway::on_timer(std::uint64_t tag) {
  if (tag == kUpTimer) {
    up_armed_ = false;
    flush_up_all();
    return;
  }
  flush_up_all();  // pending frames go before this round's pings
  const Time now = env_.clock.now();
  Ping p{++ping_seq_};
  send(config_.directory, Msg::table_request, p);
  for (const auto n : config_.nodes) send(n, Msg::ping, p);
  for (std::uint64_t player = 1; player <= routes_.size(); ++player) {
    Route& r = routes_[player - 1];
    if (r.held && now >= r.hold_until) {
      r.held = false;
      flush(player);
    } else if (!r.waiting.empty() && !r.held && healthy(r.node)) {
      flush(player);
    }
  }
  env_.timers.set_timer(now + config_.poll, kPollTimer);
}

bool Gateway::healthy(std::uint32_t node) const {
  return node >= 1 && node <= last_pong_.size() &&
         env_.clock.now() - last_pong_[node - 1] <= config_.node_timeout;
}

void Gateway::on_message(HostId from, std::span<const std::uint8_t> bytes) {
  if (!bytes.empty() && bytes[0] == kClientUp) return on_client(from, bytes);
  std::uint32_t node = 0;
  for (std::uint32_t i = 0; i < config_.nodes.size(); ++i)
    if (config_.nodes[i] == from) node = i + 1;
  if (node == 0 && from != config_.directory) {
    ++stats_.rejected;
    env_.tracer.record(TraceKind::auth_reject, from.value(), bytes.size(), 2);
    return;
  }
  on_node(from, node, bytes);
}

void Gateway::on_client(HostId from, std::span<const std::uint8_t> bytes) {
  wire::Reader r{bytes.subspan(1)};
  const std::uint64_t player = r.varint();
  const std::uint64_t chan_epoch = r.varint();
  const auto frame = r.rest();
  if (!r.ok() || player == 0 || player > routes_.size() || frame.empty()) {
    ++stats_.rejected;
    env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 5);
    return;
  }
  Route& route = routes_[player - 1];
  if (route.client.value() == 0) route.client = from;
  if (route.client != from) {  // another host claiming a connected player
    ++stats_.rejected;
    env_.tracer.record(TraceKind::auth_reject, from.value(), player, 3);
    return;
  }
  ++stats_.up_frames;
  if (route.gen == 0) {
    // Not joined yet: a join goes to its spawn cell's owner as the table says now (the client
    // repeats a refused join, so a stale table heals).
    if (const std::uint32_t owner = join_owner(frame); owner != 0) route.node = owner;
    if (route.node == 0) {
      ++stats_.unroutable;
      return;  // the client retransmits; by then the table may know the owner
    }
  }
  TunnelView t{player, route.gen, chan_epoch, frame};
  forward(t);
}

// Sends the frame to the route, or parks a copy while held / the node is unhealthy.
void Gateway::forward(TunnelView& t) {
  Route& route = routes_[t.player - 1];
  if (!route.held && healthy(route.node) && route.waiting.empty()) {
    queue_up(route.node, t);
    return;
  }
  if (route.waiting.size() >= config_.buffer_per_player || waiting_ >= config_.buffer_total) {
    ++stats_.buffer_dropped;  // the client's retransmission will bring it again
    return;
  }
  std::vector<std::uint8_t> copy;
  encode_fields(t, copy);
  route.waiting.push_back(std::move(copy));
  ++waiting_;
  ++stats_.buffered;
  stats_.buffered_max = std::max(stats_.buffered_max, waiting_);
}

void Gateway::flush(std::uint64_t player) {
  Route& route = routes_[player - 1];
  if (route.waiting.empty() || route.held || !healthy(route.node)) return;
  for (auto& bytes : route.waiting) {
    TunnelView t;
    if (!decode_fields(bytes, t)) continue;
    t.gen = route.gen;
    queue_up(route.node, t);
  }
  waiting_ -= route.waiting.size();
  route.waiting.clear();
}

void Gateway::learn(std::uint64_t player, std::uint32_t node, std::uint64_t gen) {
  Route& route = routes_[player - 1];
  if (gen < route.gen || (gen == route.gen && route.node == node)) return;
  if (gen == route.gen && route.gen != 0) return;  // same generation from another node: stale
  route.gen = gen;
  if (route.node != node) ++stats_.route_changes;
  route.node = node;
  route.held = false;
  env_.tracer.record(TraceKind::route_update, player, node, gen);
  if (observer_ != nullptr) observer_->on_route(player, node, gen);
  flush(player);
}

void Gateway::on_node(HostId from, std::uint32_t node, std::span<const std::uint8_t> bytes) {
  Msg type{};
  std::span<const std::uint8_t> body;
  if (auth_.open(bytes, from, type, body) != Auth::Open::ok) {
    ++stats_.rejected;
    env_.tracer.record(TraceKind::auth_reject, from.value(), bytes.size(), 2);
    return;
  }
  bool ok = false;
  if (type == Msg::table && node == 0) {
    Table t;
    ok = decode_fields(body, t);
    if (ok) table_ = std::move(t.cells);
  } else if (type == Msg::tunnel_batch && node != 0) {
    // The whole batch is checked, players included, before any item is relayed, so a malformed one
    // is rejected whole.
    ok = decode_tunnel_batch(body, items_) &&
         std::all_of(items_.begin(), items_.end(),
                     [&](const TunnelView& t) { return t.player >= 1 && t.player <= routes_.size(); });
    if (ok)
      for (const auto& t : items_) relay_down(node, t);
  } else if ((type == Msg::route_update || type == Msg::hold) && node != 0) {
    RouteUpdate m;
    ok = decode_fields(body, m) && m.player >= 1 && m.player <= routes_.size();
    if (ok && type == Msg::route_update) learn(m.player, node, m.gen);
    if (ok && type == Msg::hold) {
      Route& route = routes_[m.player - 1];
      if (route.node == node && route.gen == m.gen) {
        route.held = true;
        route.hold_until = env_.clock.now() + config_.hold_timeout;
      }
    }
  } else if (type == Msg::pong && node != 0) {
    Ping p;
    ok = decode_fields(body, p);
    if (ok) last_pong_[node - 1] = env_.clock.now();
  }
  if (!ok) {
    ++stats_.rejected;
    env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 6);
  }
}

void Gateway::relay_down(std::uint32_t node, const TunnelView& t) {
  Route& route = routes_[t.player - 1];
  learn(t.player, node, t.gen);
  if (route.client.value() == 0) return;
  // kClientDown chan_epoch frame, written in one go into a buffer that only grows (no per-frame
  // resize, which zero-fills).
  const std::size_t max = 1 + wire::kVarintMax + t.frame.size();
  if (down_.size() < max) down_.resize(max);
  std::uint8_t* p = down_.data();
  *p++ = kClientDown;
  p = wire::put_varint(p, t.chan_epoch);
  if (!t.frame.empty()) std::memcpy(p, t.frame.data(), t.frame.size());
  p += t.frame.size();
  env_.transport.send(route.client, std::span<const std::uint8_t>{down_.data(), p});
  ++stats_.down_frames;
}

std::uint32_t Gateway::join_owner(std::span<const std::uint8_t> frame) const {
  // A data frame: kData seq ack payload; the payload of a first frame is a Join.
  wire::Reader r{frame};
  if (r.u8() != ReliableChannel::kData) return 0;
  r.varint();
  r.varint();
  if (!r.ok()) return 0;
  wire::Join join;
  if (!wire::decode(r.rest(), join)) return 0;
  const auto cx = std::clamp<std::int64_t>(join.spawn.x / config_.cell_width_mm, 0, config_.cells_x - 1);
  const auto cy = std::clamp<std::int64_t>(join.spawn.y / config_.cell_height_mm, 0, config_.cells_y - 1);
  const auto cell = static_cast<std::size_t>(cy * config_.cells_x + cx);
  return cell < table_.size() ? table_[cell].owner : 0;
}

}  // namespace shardsim::cluster
