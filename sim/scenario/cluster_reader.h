// Reading `cluster:` — the nodes and the Phase B settings (gateways, assignment, lease timing) —
// and the set of host names that `faults:` may refer to.
//
// Internal to sim/scenario. Host names: the nodes as listed (node-1..node-N for a count), and, only
// when the cluster has gateways (ClusterSpec::phase_b), gateway-1..gateway-G, `store` (the session
// store) and `directory` (the lease store / assigner). Node names may not take those names.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/spec.h"
#include "sim/scenario/yaml_reader.h"

namespace shardsim::scenario::detail {

// The hosts of a scenario whose cluster is valid, for checking fault targets.
class Hosts {
 public:
  Hosts(std::vector<std::string> nodes, int gateways);

  bool exists(std::string_view name) const;
  bool is_node(std::string_view name) const;
  std::size_t node_count() const { return nodes_.size(); }
  bool phase_b() const { return gateways_ > 0; }
  const std::vector<std::string>& names() const { return names_; }  // nodes first

  // What a host is, for messages: "a node", "a gateway", "the session store", "the directory".
  std::string_view role(std::string_view name) const;
  // "node-1..node-4, gateway-1, store and directory"
  std::string describe() const;

 private:
  std::vector<std::string> nodes_;
  int gateways_{0};
  std::vector<std::string> names_;
};

// "node-1..node-4" for nodes a count named, else "a, b and c" (the first 8, and how many more).
std::string describe_nodes(std::span<const std::string> nodes);

// True for `store`, `directory` and `gateway-N`: hosts that exist only when the cluster has
// gateways, whatever this scenario's cluster looks like.
bool is_phase_b_host_name(std::string_view name);

struct ClusterRead {
  std::vector<std::string> node_names;
  ClusterSpec cluster;
  bool hosts_valid{false};  // nodes and gateways were both read without error
};

// Phase A (one node, no `cluster:` key): node-1 and no gateways.
ClusterRead default_cluster();

ClusterRead read_cluster(Diagnostics& diag, const Entry& e);

}  // namespace shardsim::scenario::detail
