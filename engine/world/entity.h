// Entities as a cell holds them.
//
// An entity is *real* in exactly one cell — its authority — and may be a *ghost* (a read-only copy kept
// for AOI) in the cells whose AOI range covers it. A player's real record carries its AOI witness: the
// exact set of entities, and the positions, its client has been sent. The witness moves with the player
// on handover, which is why the client's stream continues without a spurious leave/enter.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/geometry.h"
#include "engine/core/ids.h"
#include "engine/core/time.h"
#include "engine/wire/messages.h"

namespace shardsim {

struct ViewEntry {
  EntityId id;
  Vec2 sent_pos;  // the position the client last received for this entity
};

struct Entity {
  EntityId id;
  wire::EntityKind kind{wire::EntityKind::player};
  Vec2 pos;
  Vec2 target;
  std::int64_t speed_mm_s{0};
  // Consecutive ticks spent beyond the owner cell's border + hysteresis (handover dwell).
  std::int32_t outside_ticks{0};
  // Players only.
  std::uint32_t session{0};
  std::vector<ViewEntry> view;  // sorted by id
  // Players, Phase B: authority generation, ledger and its durability, cross-node handover in flight.
  std::uint64_t gen{0};
  std::uint64_t ledger_seq{0};
  std::int64_t ledger_value{0};
  std::uint64_t durable_seq{0};
  std::uint64_t acked_seq{0};
  std::uint64_t handing_out{0};  // handover id while a request is out, 0 otherwise
  Time write_due;                // an unconfirmed write-through may be retried from here
};

}  // namespace shardsim
