// Strongly typed identifiers. An id is a plain integer with a tag, so a CellId cannot be passed where an
// EntityId is expected. Ids are dense where the simulator indexes arrays by them (hosts, entities).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace shardsim {

template <class Tag, class Rep = std::uint32_t>
class Id {
 public:
  using rep = Rep;
  constexpr Id() = default;
  constexpr explicit Id(Rep value) : value_{value} {}
  constexpr Rep value() const { return value_; }
  friend constexpr auto operator<=>(const Id&, const Id&) = default;

 private:
  Rep value_{};
};

// A host is anything with its own process in the simulator: a sim node, a client, later a gateway,
// the session store or the directory.
using HostId = Id<struct HostTag>;
using CellId = Id<struct CellTag>;
using EntityId = Id<struct EntityTag, std::uint64_t>;

}  // namespace shardsim

template <class Tag, class Rep>
struct std::hash<shardsim::Id<Tag, Rep>> {
  std::size_t operator()(const shardsim::Id<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};
