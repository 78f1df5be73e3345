// Cell: one rectangle of the world grid and the unit of authority. A cell simulates its real entities
// each tick; AOI queries go to its node's index (WorldNode::index_), which holds the reals of every
// cell the node simulates plus the ghosts other nodes send of their border regions.
//
// Invariant: every entity id appears as a real in exactly one cell of the world (checked by the
// simulator's authority checker every tick). Reals keep insertion order; handover appends at the target.
#pragma once

#include <vector>

#include "engine/core/geometry.h"
#include "engine/core/ids.h"
#include "engine/core/rng.h"
#include "engine/world/entity.h"

namespace shardsim {

struct Cell {
  Cell(CellId id_, Rect rect_, Rng rng_) : id{id_}, rect{rect_}, rng{rng_} {}

  CellId id;
  Rect rect;
  std::vector<Entity> reals;
  Rng rng;  // NPC spawns and wandering in this cell
};

}  // namespace shardsim
