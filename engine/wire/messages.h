// Client <-> node application messages and their codec.
//
// Every message crosses the simulated network as bytes: the sender encodes, the receiver decodes, so
// payload sizes are real and codec bugs surface as checker failures. Layout (all integers LEB128 varints,
// signed ones zigzag):
//
//   Join      0x10 player_id x y
//   MoveInput 0x11 target_x target_y speed_mm_s
//   Action    0x12 seq amount                      (a durable player action: changes its ledger)
//   ActionAck 0x21 seq                             (every action <= seq is durable)
//   AoiBatch  0x20 tick n_enter {id_delta kind x y}* n_update {id_delta dx dy}* n_leave {id_delta}*
//
// AOI ids in each list are strictly ascending and sent as deltas from the previous id (the first from
// 0). Enter carries an absolute position; update carries the delta from the last position this client
// was sent for that entity, which is sound because the stream runs over a reliable ordered channel.
// decode_* return false on any malformed input (truncated, trailing bytes, non-ascending ids, counts
// beyond kAoiOpsMax) and never read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/geometry.h"
#include "engine/core/ids.h"

namespace shardsim::wire {

enum class MsgType : std::uint8_t {
  join = 0x10,
  move_input = 0x11,
  action = 0x12,
  aoi_batch = 0x20,
  action_ack = 0x21,
};
enum class EntityKind : std::uint8_t { player = 0, npc = 1 };

inline constexpr std::uint64_t kAoiOpsMax = 1u << 16;
inline constexpr std::int64_t kCoordAbsMax = std::int64_t{1} << 40;

struct Join {
  std::uint64_t player_id{0};
  Vec2 spawn;
};

struct MoveInput {
  Vec2 target;
  std::int64_t speed_mm_s{0};
};

struct Action {
  std::uint64_t seq{0};  // 1, 2, 3... per player
  std::int64_t amount{0};
};

struct ActionAck {
  std::uint64_t seq{0};
};

struct AoiEnter {
  EntityId id;
  EntityKind kind{EntityKind::player};
  Vec2 pos;
};
struct AoiUpdate {
  EntityId id;
  Vec2 delta;
};

struct AoiBatch {
  std::uint64_t tick{0};
  std::vector<AoiEnter> enters;
  std::vector<AoiUpdate> updates;
  std::vector<EntityId> leaves;
  void clear() {
    enters.clear();
    updates.clear();
    leaves.clear();
  }
  bool empty() const { return enters.empty() && updates.empty() && leaves.empty(); }
};

// Peeks the type byte; false if empty or unknown.
bool peek_type(std::span<const std::uint8_t> bytes, MsgType& type);

void encode(const Join& m, std::vector<std::uint8_t>& out);
void encode(const MoveInput& m, std::vector<std::uint8_t>& out);
void encode(const AoiBatch& m, std::vector<std::uint8_t>& out);
// The same bytes written in place: `room` must hold encoded_max(m) bytes (asserted); returns how many
// were written. A sender can build the batch straight behind its frame header, not in a vector that
// is then copied into the frame.
std::size_t encoded_max(const AoiBatch& m);
std::size_t encode(const AoiBatch& m, std::span<std::uint8_t> room);
// An AoiBatch's lists as spans, encoded to the same bytes: a sender can keep a list in scratch that
// only grows (the node's updates), instead of resizing, so zero-filling, a vector every batch.
struct AoiBatchRef {
  std::uint64_t tick{0};
  std::span<const AoiEnter> enters;
  std::span<const AoiUpdate> updates;
  std::span<const EntityId> leaves;
  bool empty() const { return enters.empty() && updates.empty() && leaves.empty(); }
};
std::size_t encoded_max(const AoiBatchRef& m);
std::size_t encode(const AoiBatchRef& m, std::span<std::uint8_t> room);
void encode(const Action& m, std::vector<std::uint8_t>& out);
void encode(const ActionAck& m, std::vector<std::uint8_t>& out);

bool decode(std::span<const std::uint8_t> bytes, Join& m);
bool decode(std::span<const std::uint8_t> bytes, MoveInput& m);
bool decode(std::span<const std::uint8_t> bytes, AoiBatch& m);  // reuses m's vectors
bool decode(std::span<const std::uint8_t> bytes, Action& m);
bool decode(std::span<const std::uint8_t> bytes, ActionAck& m);

}  // namespace shardsim::wire
