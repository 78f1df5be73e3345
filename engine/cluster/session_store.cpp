#include "engine/cluster/session_store.h"

namespace shardsim::cluster {

SessionStore::SessionStore(Env env, StoreConfig config, StoreState& state)
    : env_{env}, config_{std::move(config)}, state_{state}, auth_{config_.auth_key} {
  if (state_.records.empty()) state_.records.resize(config_.max_players);
}

PlayerRecord* SessionStore::find(std::uint64_t player) {
  if (player == 0 || player > state_.records.size()) return nullptr;
  return &state_.records[player - 1];
}

template <class M>
void SessionStore::send(HostId to, Msg type, M& m) {
  auth_.seal(type, m, env_.transport.self(), out_);
  env_.transport.send(to, out_);
}

void SessionStore::on_message(HostId from, std::span<const std::uint8_t> bytes) {
  bool member = false;
  for (const auto n : config_.nodes) member = member || n == from;
  Msg type{};
  std::span<const std::uint8_t> body;
  if (!member || auth_.open(bytes, from, type, body) != Auth::Open::ok) {
    ++state_.rejected;
    env_.tracer.record(TraceKind::auth_reject, from.value(), bytes.size(), 1);
    return;
  }
  if (type == Msg::store_cas) {
    StoreCas m;
    if (decode_fields(body, m)) {
      StoreCasReply reply;
      reply.req = m.req;
      std::uint64_t ok = 0;
      for (auto& e : m.entries) {
        PlayerRecord* r = find(e.rec.player);
        CasResult res{e.rec.player, false, 0, 0};
        if (r != nullptr) {
          // A retry of a cas that already succeeded (its reply was lost) succeeds again.
          const bool retry = r->gen == e.expected + 1 && r->owner == e.rec.owner &&
                             r->lease == e.rec.lease && r->owner != 0;
          if (retry) {
            res.ok = true;
            ++ok;
          } else if (r->gen == e.expected) {
            *r = e.rec;
            r->gen = e.expected + 1;
            res.ok = true;
            ++state_.writes;
            ++ok;
          } else {
            ++state_.fenced;
          }
          res.gen = r->gen;
          res.owner = r->owner;
        }
        reply.results.push_back(res);
      }
      env_.tracer.record(TraceKind::store_op, 0, m.entries.size(), ok);
      return send(from, Msg::store_cas_reply, reply);
    }
  } else if (type == Msg::store_write) {
    StoreWrite m;
    if (decode_fields(body, m)) {
      StoreWriteReply reply;
      reply.req = m.req;
      std::uint64_t ok = 0;
      for (auto& rec : m.records) {
        PlayerRecord* r = find(rec.player);
        CasResult res{rec.player, false, 0, 0};
        if (r != nullptr) {
          if (r->gen == rec.gen && r->gen != 0) {
            *r = rec;
            res.ok = true;
            ++state_.writes;
            ++ok;
          } else {
            ++state_.fenced;
          }
          res.gen = r->gen;
          res.owner = r->owner;
        }
        reply.results.push_back(res);
      }
      env_.tracer.record(TraceKind::store_op, 1, m.records.size(), ok);
      return send(from, Msg::store_write_reply, reply);
    }
  } else if (type == Msg::store_restore) {
    StoreRestore m;
    if (decode_fields(body, m)) {
      auto& last = state_.last_restore[from.value()];
      if (last.req == m.req && m.req != 0) return send(from, Msg::store_restore_reply, last);
      StoreRestoreReply reply;
      reply.req = m.req;
      std::vector<std::uint8_t> wanted(state_.records.size() + 1, 0);
      for (auto c : m.cells)
        if (c < wanted.size()) wanted[c] = 1;
      const bool to_ok = m.to >= 1 && m.to <= m.leases.size() && m.leases[m.to - 1] != 0;
      for (auto& r : state_.records) {
        if (!to_ok || r.gen == 0 || r.cell >= wanted.size() || wanted[r.cell] == 0) continue;
        if (r.owner == m.to && r.lease == m.leases[m.to - 1]) continue;  // ours already
        const bool owner_live = r.owner >= 1 && r.owner <= m.leases.size() &&
                                m.leases[r.owner - 1] != 0 && m.leases[r.owner - 1] == r.lease;
        if (owner_live) continue;
        r.owner = m.to;
        r.lease = m.leases[m.to - 1];
        ++r.gen;
        ++state_.writes;
        reply.records.push_back(r);
      }
      env_.tracer.record(TraceKind::store_op, 2, m.cells.size(), reply.records.size());
      last = reply;
      return send(from, Msg::store_restore_reply, reply);
    }
  }
  ++state_.rejected;
  env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 4);
}

}  // namespace shardsim::cluster
