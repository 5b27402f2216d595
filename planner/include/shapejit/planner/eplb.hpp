#pragma once
// Expert placement (EPLB semantics): replicate hot experts into physical slots and pack the
// slots onto GPUs so that every GPU carries about the same load.
//
// Model: an expert with load L and c replicas sends L / c to each replica; a GPU's load is the
// sum over its slots. Slot p lives on GPU p / (slots / gpus), GPUs g on node g / (gpus / nodes).
#include <cstdint>
#include <string>
#include <vector>

namespace shapejit::planner {

enum class EplbPolicy {
  automatic,     // hierarchical when groups divide evenly among nodes, else global
  hierarchical,  // groups → nodes, replicate within each node, replicas → the node's GPUs
  global,        // replicate over all slots, replicas → GPUs, node boundaries ignored
};

const char* to_string(EplbPolicy policy);
EplbPolicy parse_eplb_policy(const std::string& text);  // "auto" | "hierarchical" | "global"

// Per-layer expert loads, row-major [layers][experts]; token counts or moving averages (≥ 0).
struct ExpertLoads {
  int layers = 0;
  int experts = 0;
  std::vector<double> values;
  double at(int layer, int expert) const { return values[size_t(layer) * size_t(experts) + size_t(expert)]; }
};

struct EplbTopology {
  int slots = 0;   // physical expert slots in total (≥ experts)
  int groups = 1;  // expert groups (experts % groups == 0)
  int nodes = 1;
  int gpus = 1;    // GPUs in total (gpus % nodes == 0, slots % gpus == 0)
  int slots_per_gpu() const { return slots / gpus; }
  int gpus_per_node() const { return gpus / nodes; }
};

struct EplbOptions {
  EplbPolicy policy = EplbPolicy::automatic;
  bool refine = false;          // run the local-search refinement after the greedy placement
  int refine_max_moves = 100000;  // per layer; a safety cap, the search stops earlier in practice
};

// One layer's placement.
struct LayerPlacement {
  std::vector<int> phy2log;                // [slots] logical expert held by each slot
  std::vector<int> phyrank;                // [slots] replica index of that slot within its expert
  std::vector<int> logcnt;                 // [experts] number of replicas
  std::vector<std::vector<int>> log2phy;   // [experts][max replicas over all layers], −1 padded
};

struct LoadStats {
  double max = 0;   // heaviest GPU
  double mean = 0;  // average GPU (total load / gpus)
  double balance() const { return mean > 0 ? max / mean : 1.0; }  // 1.0 is perfect
};

struct Placement {
  EplbTopology topology;
  EplbPolicy policy = EplbPolicy::hierarchical;  // the policy actually used (never automatic)
  int experts = 0;
  int max_replicas = 0;                  // width of log2phy
  std::vector<LayerPlacement> layers;
  int gpu_of_slot(int slot) const { return slot / topology.slots_per_gpu(); }
};

// What the refinement (or a migration-aware rebalance) achieved, per layer and overall.
struct EplbReport {
  std::vector<LoadStats> greedy;   // per layer, after the greedy placement
  std::vector<LoadStats> final;    // per layer, after refinement (== greedy without it)
  std::vector<int> refine_moves;   // per layer, accepted swaps and replica moves
};

// Validates the shapes and divisibility for the chosen policy; throws Error(invalid_argument).
EplbPolicy resolve_policy(const ExpertLoads& loads, const EplbTopology& topo, EplbPolicy requested);

// The EPLB greedy placement (deterministic: ties go to the lowest index), optionally refined.
Placement plan_eplb(const ExpertLoads& loads, const EplbTopology& topo, const EplbOptions& options = {},
                    EplbReport* report = nullptr);

// Per-GPU loads of one layer under a placement.
std::vector<double> gpu_loads(const Placement& placement, const ExpertLoads& loads, int layer);
LoadStats load_stats(const std::vector<double>& gpu_load);

// Rebuilds phyrank, logcnt and log2phy from phy2log (after a pass that edits phy2log).
void rebuild_layer_maps(LayerPlacement& layer, int experts);
void set_max_replicas(Placement& placement);  // recompute the log2phy width over all layers

// Checks every invariant: each expert has ≥ 1 slot, counts add up, log2phy and phy2log agree,
// and under the hierarchical policy each expert's replicas stay on one node. Throws on failure.
void check_placement(const Placement& placement);

// ---- Refinement -------------------------------------------------------------------------
// Local search on one layer that only accepts moves lowering the heaviest GPU of the moment and
// leaving every GPU it touches strictly below that load: so the maximum never rises and the
// sorted load vector falls lexicographically (the search ends). Moves: swap two slots between
// GPUs, or give a replica of an expert with ≥ 2 replicas to another expert. Under the
// hierarchical policy both stay inside a node. Returns the number of accepted moves.
int refine_layer(LayerPlacement& layer, const EplbTopology& topo, EplbPolicy policy,
                 const double* expert_load, int experts, int max_moves);

// ---- Migration-aware rebalancing --------------------------------------------------------
// Cost of a placement for the next period, in load units:
//   cost = max GPU load + move_cost × moved
// where `moved` counts (GPU, expert) pairs present in the new placement but not in the current
// one: each is one expert's weights copied to a GPU. `move_cost` is what one copy is worth in
// load units (e.g. the copy time divided by the time one load unit costs on the slowest GPU,
// summed over the period the placement will be used).
struct MigrationOptions {
  double move_cost = 1.0;
  EplbPolicy policy = EplbPolicy::automatic;
  int max_moves = 100000;   // per layer, cap of the local search
};

struct MigrationLayerReport {
  LoadStats current;    // the current placement under the new loads
  LoadStats fresh;      // a from-scratch EPLB + refinement placement (GPU labels matched)
  LoadStats chosen;
  int fresh_moved = 0;  // copies the fresh placement would need
  int moved = 0;        // copies the chosen placement needs
  double cost = 0;      // of the chosen placement
  std::string choice;   // "current", "incremental" or "fresh"
};

struct MigrationReport {
  std::vector<MigrationLayerReport> layers;
  int total_moved = 0;
};

// Starts from `current` (same topology and experts as `loads`) and returns the placement of
// least cost among: the current one, the best prefix of an incremental local search from it,
// and the fresh placement with its GPUs relabelled to keep as many experts in place as possible.
Placement rebalance_with_migration(const Placement& current, const ExpertLoads& loads,
                                   const MigrationOptions& options, MigrationReport* report = nullptr);

// Number of (GPU, expert) pairs in `next` that `current` lacks (one layer).
int count_moved(const LayerPlacement& current, const LayerPlacement& next, const EplbTopology& topo);

}  // namespace shapejit::planner
