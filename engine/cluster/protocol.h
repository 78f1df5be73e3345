// The cluster protocol: every message between nodes, gateways, the session store and the directory.
// See docs/adr/0002-cross-node-handover-protocol.md for the design and the threat model.
//
// Envelope (every cluster message):   0x40 type body... tag[8]
//   tag = XXH3-64(0x40 type body, seed = cluster key ^ mix(sender host id)), little-endian.
// The receiver recomputes the tag with the sender's host id as the transport reports it, so a message
// from a host outside the membership, a corrupted message, or one replayed from another sender fails
// authentication and is rejected and counted. (XXH3 keyed this way stops accidents and stale members,
// not a cryptographic adversary; a real deployment puts mTLS or HMAC-SHA256 here — see the ADR.)
//
// Client <-> gateway (not authenticated; the gateway is the trust boundary):
//   up   0x50 player_id chan_epoch frame...      down 0x51 chan_epoch frame...
// `frame` is a ReliableChannel frame of the player's end-to-end stream with its owner node.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "engine/cluster/codec.h"
#include "engine/core/assert.h"
#include "engine/core/geometry.h"
#include "engine/core/ids.h"

namespace shardsim::cluster {

inline constexpr std::uint8_t kEnvelope = 0x40;
inline constexpr std::uint8_t kClientUp = 0x50;
inline constexpr std::uint8_t kClientDown = 0x51;
inline constexpr std::size_t kTagBytes = 8;

enum class Msg : std::uint8_t {
  // node <-> directory, gateway <-> directory
  heartbeat = 1,
  heartbeat_ack = 2,
  table_request = 3,
  table = 4,
  migration_done = 5,
  migration_done_ack = 6,
  leave = 7,
  // node <-> store
  store_cas = 10,
  store_cas_reply = 11,
  store_write = 12,
  store_write_reply = 13,
  store_restore = 14,
  store_restore_reply = 15,
  // node <-> node
  ho_request = 20,
  ho_ready = 21,
  ho_reject = 22,
  ho_commit = 23,
  ho_ack = 24,
  ho_nack = 25,
  ghosts = 26,
  cell_transfer = 27,
  cell_transfer_ack = 28,
  // node <-> gateway
  tunnel = 30,
  route_update = 31,
  hold = 32,
  ping = 33,
  pong = 34,
  tunnel_batch = 35,  // Tunnel items back to back: node -> gateway (TunnelTransport), gateway -> node (uplink_flush)
};
inline constexpr std::uint8_t kMsgMax = 35;

// The enumerator's name ("tunnel_batch"), or "" for a byte that names no message type. For reports
// (messages by type); a switch without a default, so a Msg added without a name here does not
// compile (-Wswitch, -Werror).
constexpr std::string_view msg_name(Msg type) {
  switch (type) {
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
  return "";
}

// Durable part of a player: what the session store keeps and a restore rebuilds from.
struct PlayerRecord {
  std::uint64_t player{0};
  std::uint64_t gen{0};     // authority generation: +1 on every ownership change (fencing token)
  std::uint32_t owner{0};   // node index (1-based), 0 = none
  std::uint64_t lease{0};   // the owner's lease id when it took the player
  std::uint32_t cell{0};
  Vec2 pos;
  Vec2 target;
  std::int64_t speed{0};
  std::uint64_t ledger_seq{0};    // highest action applied
  std::int64_t ledger_value{0};
  std::uint64_t chan_epoch{0};    // the client stream's epoch (changes only when rebuilt from here)
  std::uint32_t gateway{0};       // host id of the gateway the client is connected through
  template <class A>
  void fields(A& a) {
    a(player), a(gen), a(owner), a(lease), a(cell), a(pos), a(target), a(speed), a(ledger_seq),
        a(ledger_value), a(chan_epoch), a(gateway);
  }
};

// Everything a live player carries between nodes: the record plus its volatile stream state.
struct PlayerTransfer {
  PlayerRecord rec;
  std::vector<std::uint8_t> view;     // AOI witness (encoded id/sent_pos list)
  std::vector<std::uint8_t> channel;  // ReliableChannel state (sequence numbers, unacked frames)
  std::uint64_t acked_seq{0};         // highest action acknowledged to the client
  std::uint64_t durable_seq{0};       // highest action the store has
  // The tick number of the stream's last AOI batch: the new owner numbers its batches above it,
  // whatever its own clock says (see WorldNode::publish_view).
  std::uint64_t stream_tick{0};
  template <class A>
  void fields(A& a) {
    rec.fields(a), a(view), a(channel), a(acked_seq), a(durable_seq), a(stream_tick);
  }
};

struct CellEntry {
  std::uint32_t owner{0};  // node index, 0 = unassigned
  std::uint64_t epoch{0};
  std::uint32_t migrate_to{0};  // node index a planned migration moves it to, 0 = none
  std::uint32_t restore_from{0};  // failover: the dead previous owner whose players to restore
  template <class A>
  void fields(A& a) {
    a(owner), a(epoch), a(migrate_to), a(restore_from);
  }
};

struct Heartbeat {
  std::uint32_t node{0};
  std::uint64_t lease{0};  // 0 = asking for a new lease
  std::uint64_t nonce{0};  // with lease 0: repeats of one request get one lease
  std::uint64_t seq{0};
  std::uint64_t load{0};   // entities simulated
  bool draining{false};
  std::vector<std::uint64_t> cell_loads;  // pairs: cell, entities (least-loaded rebalancing)
  template <class A>
  void fields(A& a) {
    a(node), a(lease), a(nonce), a(seq), a(load), a(draining), a(cell_loads);
  }
};

struct Table {  // heartbeat_ack (lease, seq meaningful) and table (for gateways)
  std::uint64_t lease{0};  // 0 in an ack: the lease is gone, fence and re-register
  std::uint64_t nonce{0};  // echo of the heartbeat's: a node adopts a new lease only from its request
  std::uint64_t seq{0};
  std::uint64_t version{0};
  std::vector<CellEntry> cells;
  std::vector<std::uint64_t> leases;  // leases[i]: node i+1's current lease id, 0 = none
  template <class A>
  void fields(A& a) {
    a(lease), a(nonce), a(seq), a(version), a(cells), a(leases);
  }
};

struct MigrationDone {  // target -> directory (and the ack back, with ok/epoch)
  std::uint32_t cell{0};
  std::uint32_t from{0};
  std::uint32_t to{0};
  std::uint64_t epoch{0};  // the epoch being replaced (ack: the new one)
  bool ok{false};
  template <class A>
  void fields(A& a) {
    a(cell), a(from), a(to), a(epoch), a(ok);
  }
};

struct Leave {
  std::uint32_t node{0};
  std::uint64_t lease{0};
  template <class A>
  void fields(A& a) {
    a(node), a(lease);
  }
};

// Compare-and-swap of player records, in a batch: each entry succeeds iff the stored gen equals
// `expected` (0 = absent), and then stores `rec` with gen = expected + 1.
struct CasEntry {
  std::uint64_t expected{0};
  PlayerRecord rec;
  template <class A>
  void fields(A& a) {
    a(expected), rec.fields(a);
  }
};
struct StoreCas {
  std::uint64_t req{0};
  std::vector<CasEntry> entries;
  template <class A>
  void fields(A& a) {
    a(req), a(entries);
  }
};
struct CasResult {
  std::uint64_t player{0};
  bool ok{false};
  std::uint64_t gen{0};    // stored gen after the operation
  std::uint32_t owner{0};  // stored owner after the operation
  template <class A>
  void fields(A& a) {
    a(player), a(ok), a(gen), a(owner);
  }
};
struct StoreCasReply {
  std::uint64_t req{0};
  std::vector<CasResult> results;
  template <class A>
  void fields(A& a) {
    a(req), a(results);
  }
};

// Checkpoint / write-through: each record is written iff its gen equals the stored gen (fencing).
struct StoreWrite {
  std::uint64_t req{0};
  std::vector<PlayerRecord> records;
  template <class A>
  void fields(A& a) {
    a(req), a(records);
  }
};
struct StoreWriteReply {
  std::uint64_t req{0};
  std::vector<CasResult> results;  // ok=false: fenced (someone else owns the player now)
  template <class A>
  void fields(A& a) {
    a(req), a(results);
  }
};

// Restore: atomically moves to `to` (gen + 1) every record in one of `cells` whose owner holds no
// lease any more: the record's (owner, lease) is not in `leases`, the directory's current lease ids.
// A failover sends it for the cells it took over; every node also sends it for all its cells when
// a lease disappears from the table (an orphan sweep: a record's cell can be stale — the player
// moved between two cells of its owner after the last checkpoint — so the dead owner's players
// are found wherever their record says they are). Records already restored to `to` by an earlier
// try (lost reply) come back again.
struct StoreRestore {
  std::uint64_t req{0};
  std::uint32_t to{0};
  std::vector<std::uint64_t> cells;
  std::vector<std::uint64_t> leases;
  template <class A>
  void fields(A& a) {
    a(req), a(to), a(cells), a(leases);
  }
};
struct StoreRestoreReply {
  std::uint64_t req{0};
  std::vector<PlayerRecord> records;
  template <class A>
  void fields(A& a) {
    a(req), a(records);
  }
};

struct HoRequest {
  std::uint64_t hid{0};
  std::uint64_t player{0};
  std::uint32_t from_cell{0};
  std::uint32_t to_cell{0};
  std::uint64_t to_epoch{0};
  template <class A>
  void fields(A& a) {
    a(hid), a(player), a(from_cell), a(to_cell), a(to_epoch);
  }
};
struct HoReply {  // ready, reject, ack, nack
  std::uint64_t hid{0};
  std::uint64_t player{0};
  std::uint32_t reason{0};
  template <class A>
  void fields(A& a) {
    a(hid), a(player), a(reason);
  }
};
struct HoCommit {
  std::uint64_t hid{0};
  std::uint32_t to_cell{0};
  std::uint64_t to_epoch{0};
  PlayerTransfer player;
  template <class A>
  void fields(A& a) {
    a(hid), a(to_cell), a(to_epoch), player.fields(a);
  }
};

// GhostEntry::kind: the entity's wire::EntityKind, with this bit set for a copy standing where the
// entity left its sender (a handover in flight or just acked, a migrated cell's entities): a
// receiver ranks it below every live ghost, whoever its table says owns the cell it stands in.
inline constexpr std::uint8_t kGhostStanding = 0x80;
inline constexpr std::uint8_t kGhostKindMask = 0x7f;

struct GhostEntry {
  std::uint64_t id{0};
  std::uint8_t kind{0};
  Vec2 pos;
  template <class A>
  void fields(A& a) {
    a(id), a(kind), a(pos);
  }
};
struct Ghosts {
  std::uint64_t tick{0};
  std::vector<GhostEntry> entries;
  template <class A>
  void fields(A& a) {
    a(tick), a(entries);
  }
};
// Ghosts are the bulk of the node <-> node traffic (every tick, to each neighbouring node, ~100
// entries), and the field codec's per-varint room and bounds checks and per-entry push_back were ~4 %
// of a cross_node run. These two overloads, which every encode_fields / decode_fields of a Ghosts
// (Auth::seal's included) picks over the templates, write the same bytes as Ghosts::fields with
// one room check per message and read them with one bounds check per entry; they accept exactly
// what Dec accepts (tests/engine/cluster_test.cpp checks both against Ghosts::fields).
void encode_fields(Ghosts& m, std::vector<std::uint8_t>& out);
bool decode_fields(std::span<const std::uint8_t> in, Ghosts& m);

struct NpcState {
  std::uint64_t id{0};
  Vec2 pos;
  Vec2 target;
  std::int64_t speed{0};
  template <class A>
  void fields(A& a) {
    a(id), a(pos), a(target), a(speed);
  }
};
struct CellTransfer {
  std::uint32_t cell{0};
  std::uint64_t epoch{0};  // the epoch the source held
  std::uint32_t from{0};
  std::vector<PlayerTransfer> players;
  std::vector<NpcState> npcs;
  std::uint64_t next_npc{0};
  template <class A>
  void fields(A& a) {
    a(cell), a(epoch), a(from), a(players), a(npcs), a(next_npc);
  }
};
struct CellTransferAck {
  std::uint32_t cell{0};
  std::uint64_t epoch{0};
  bool ok{false};
  template <class A>
  void fields(A& a) {
    a(cell), a(epoch), a(ok);
  }
};

struct Tunnel {
  std::uint64_t player{0};
  std::uint64_t gen{0};  // node -> gateway: the sender's authority generation for the player
  std::uint64_t chan_epoch{0};
  std::vector<std::uint8_t> frame;
  template <class A>
  void fields(A& a) {
    a(player), a(gen), a(chan_epoch), a(frame);
  }
};
// A Tunnel whose frame borrows the bytes it was decoded from (same fields, same encoding). The relay
// paths — the gateway's downlink, a node's uplink — decode every item of every batch only to pass the
// frame on, and a copy into a vector per item was ~3 % of a cross_node run's instructions.
struct TunnelView {
  std::uint64_t player{0};
  std::uint64_t gen{0};
  std::uint64_t chan_epoch{0};
  std::span<const std::uint8_t> frame;
  template <class A>
  void fields(A& a) {
    a(player), a(gen), a(chan_epoch), a(frame);
  }
};
struct RouteUpdate {  // route_update and hold
  std::uint64_t player{0};
  std::uint64_t gen{0};
  template <class A>
  void fields(A& a) {
    a(player), a(gen);
  }
};
struct Ping {  // ping, pong
  std::uint64_t seq{0};
  template <class A>
  void fields(A& a) {
    a(seq);
  }
};

// Sealing and opening envelopes.
class Auth {
 public:
  explicit Auth(std::uint64_t key) : key_{key} {}
  // Appends the envelope for `m` from `sender` to `out` (cleared first).
  template <class M>
  void seal(Msg type, M& m, HostId sender, std::vector<std::uint8_t>& out) const {
    out.clear();
    out.push_back(kEnvelope);
    out.push_back(static_cast<std::uint8_t>(type));
    encode_fields(m, out);
    append_tag(sender, out);
  }
  // The same for a body already encoded: what TunnelBatch::seal builds in place, by copying (the
  // tests build batches by hand with it). Out of line: g++ 12, inlining it into a caller with a
  // small constant body, warns -Warray-bounds about the insert (a false positive).
  void seal_body(Msg type, std::span<const std::uint8_t> body, HostId sender,
                 std::vector<std::uint8_t>& out) const;
  // The same for a body built in place: `msg` is 2 bytes of room, the body, kTagBytes of room;
  // fills in the head and the tag (no copy of the body).
  void seal_in_place(Msg type, std::span<std::uint8_t> msg, HostId sender) const;
  enum class Open { ok, malformed, bad_tag };
  // Checks the envelope; on ok sets `type` and `body` (a view into `bytes`).
  Open open(std::span<const std::uint8_t> bytes, HostId sender, Msg& type,
            std::span<const std::uint8_t>& body) const;

 private:
  std::uint64_t tag(std::span<const std::uint8_t> data, HostId sender) const;
  void append_tag(HostId sender, std::vector<std::uint8_t>& out) const;
  std::uint64_t key_;
};

// A tunnel_batch being built: Tunnel items back to back (Tunnel::fields order and encoding), with
// room kept for the envelope around them, so sealing writes the head and the tag in place. The
// buffer only grows; an item is written in one go (an Enc per item resized, zero-filled and trimmed
// the vector, and with the copy into the envelope this was ~300 instructions per relayed frame).
class TunnelBatch {
 public:
  bool empty() const { return len_ == kHead; }
  std::size_t body_size() const { return len_ - kHead; }
  void add(std::uint64_t player, std::uint64_t gen, std::uint64_t chan_epoch,
           std::span<const std::uint8_t> frame) {
    const std::size_t max = len_ + 4 * wire::kVarintMax + frame.size() + kTagBytes;
    if (buf_.size() < max) buf_.resize(max);
    std::uint8_t* p = buf_.data() + len_;
    p = wire::put_varint(p, player);
    p = wire::put_varint(p, gen);
    p = wire::put_varint(p, chan_epoch);
    p = wire::put_varint(p, frame.size());
    if (!frame.empty()) std::memcpy(p, frame.data(), frame.size());
    len_ = static_cast<std::size_t>(p - buf_.data()) + frame.size();
  }
  // Seals the batch (see Auth::seal_in_place) and returns the message, valid until the next add;
  // the batch is empty after.
  std::span<const std::uint8_t> seal(const Auth& auth, HostId sender) {
    SHARD_ASSERT(!empty());
    const std::span<std::uint8_t> msg{buf_.data(), len_ + kTagBytes};  // add() left the room
    auth.seal_in_place(Msg::tunnel_batch, msg, sender);
    len_ = kHead;
    return msg;
  }

 private:
  static constexpr std::size_t kHead = 2;  // kEnvelope, type
  std::vector<std::uint8_t> buf_;
  std::size_t len_{kHead};
};

// The other end: a tunnel_batch body decoded whole into `items`, as views into `body` (valid while
// those bytes are), in order. False if the body is empty or any item is malformed, so a batch is
// used whole or not at all. The gateway (downlink) and a node (uplink) both read batches this way.
bool decode_tunnel_batch(std::span<const std::uint8_t> body, std::vector<TunnelView>& items);

}  // namespace shardsim::cluster
