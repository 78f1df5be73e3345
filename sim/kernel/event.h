// Event: one entry of the kernel's pending-event set (sim/kernel/event_queue.h). 40 bytes, copied by
// value; the queue gives each its insertion sequence, the Simulator interprets kind, host, a and b.
#pragma once

#include <cstdint>

#include "engine/core/time.h"

namespace shardsim::sim {

struct Event {
  Time time;
  std::uint64_t seq{0};   // assigned by EventQueue::push()
  std::uint32_t kind{0};  // interpreted by the Simulator
  std::uint32_t host{0};
  std::uint64_t a{0};
  std::uint64_t b{0};
};

}  // namespace shardsim::sim
