// Cell: one rectangle of the world grid and the unit of authority. A cell simulates its real entities
// each tick, holds ghosts of its neighbours' entities near its border (in its AoiIndex, the only
// place they are read), and answers AOI queries over reals + ghosts through that index.
//
// Invariant: every entity id appears as a real in exactly one cell of the world (checked by the
// simulator's authority checker every tick). Reals keep insertion order; handover appends at the target.
#pragma once

#include <vector>

#include "engine/core/geometry.h"
#include "engine/core/ids.h"
#include "engine/core/rng.h"
#include "engine/world/aoi_index.h"
#include "engine/world/entity.h"

namespace shardsim {

struct Cell {
  Cell(CellId id_, Rect rect_, Rect index_bounds, std::int64_t bucket_mm, Rng rng_)
      : id{id_}, rect{rect_}, index{index_bounds, bucket_mm}, rng{rng_} {}

  CellId id;
  Rect rect;
  std::vector<Entity> reals;
  AoiIndex index;
  Rng rng;  // NPC spawns and wandering in this cell
};

}  // namespace shardsim
