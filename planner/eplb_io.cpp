#include "shapejit/planner/eplb_io.hpp"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "file_text.hpp"
#include "shapejit/error.hpp"

namespace shapejit::planner {
namespace {

using nlohmann::json;

ExpertLoads loads_from_rows(const std::vector<std::vector<double>>& rows, const std::string& origin) {
  ExpertLoads out;
  out.layers = int(rows.size());
  if (rows.empty()) fail(Errc::invalid_argument, origin + ": no layers of expert loads");
  out.experts = int(rows[0].size());
  for (size_t l = 0; l < rows.size(); ++l) {
    if (int(rows[l].size()) != out.experts)
      fail(Errc::invalid_argument, origin + ": layer " + std::to_string(l) + " has " + std::to_string(rows[l].size()) +
                                       " expert loads, layer 0 has " + std::to_string(out.experts));
    out.values.insert(out.values.end(), rows[l].begin(), rows[l].end());
  }
  return out;
}

ExpertLoads parse_json_loads(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(Errc::invalid_argument, origin + ": not valid JSON: " + e.what());
  }
  if (j.is_object()) {
    if (!j.contains("loads")) fail(Errc::invalid_argument, origin + ": JSON object without a \"loads\" field");
    j = j["loads"];
  }
  if (!j.is_array()) fail(Errc::invalid_argument, origin + ": loads must be an array of per-layer arrays");
  std::vector<std::vector<double>> rows;
  for (size_t l = 0; l < j.size(); ++l) {
    if (!j[l].is_array()) fail(Errc::invalid_argument, origin + ": layer " + std::to_string(l) + " is not an array");
    rows.emplace_back();
    for (size_t e = 0; e < j[l].size(); ++e) {
      if (!j[l][e].is_number())
        fail(Errc::invalid_argument, origin + ": layer " + std::to_string(l) + ", expert " + std::to_string(e) +
                                         " is not a number");
      rows.back().push_back(j[l][e].get<double>());
    }
  }
  return loads_from_rows(rows, origin);
}

ExpertLoads parse_text_loads(const std::string& text, const std::string& origin) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& c : line)
      if (c == ',' || c == '\t' || c == '\r') c = ' ';
    std::vector<double> row;
    const char* p = line.c_str();
    while (*p) {
      while (*p == ' ') ++p;
      if (!*p) break;
      char* end = nullptr;
      const double v = std::strtod(p, &end);
      if (end == p)
        fail(Errc::invalid_argument, origin + ":" + std::to_string(line_no) + ": not a number near '" +
                                         std::string(p).substr(0, 16) + "'");
      row.push_back(v);
      p = end;
    }
    if (!row.empty()) rows.push_back(std::move(row));
  }
  return loads_from_rows(rows, origin);
}

int get_int(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer())
    fail(Errc::invalid_argument, std::string("placement JSON: missing integer field \"") + key + "\"");
  return j[key].get<int>();
}

}  // namespace

ExpertLoads parse_loads(const std::string& text, const std::string& origin) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i < text.size() && (text[i] == '[' || text[i] == '{')) return parse_json_loads(text, origin);
  return parse_text_loads(text, origin);
}

ExpertLoads read_loads(const std::string& path) { return parse_loads(detail::read_text_file(path, "loads"), path); }

json placement_to_json(const Placement& p) {
  json j;
  j["policy"] = to_string(p.policy);
  j["layers"] = p.layers.size();
  j["experts"] = p.experts;
  j["slots"] = p.topology.slots;
  j["groups"] = p.topology.groups;
  j["nodes"] = p.topology.nodes;
  j["gpus"] = p.topology.gpus;
  j["max_replicas"] = p.max_replicas;
  json phy2log = json::array(), phyrank = json::array(), log2phy = json::array(), logcnt = json::array();
  for (const auto& layer : p.layers) {
    phy2log.push_back(layer.phy2log);
    phyrank.push_back(layer.phyrank);
    log2phy.push_back(layer.log2phy);
    logcnt.push_back(layer.logcnt);
  }
  j["phy2log"] = std::move(phy2log);
  j["phyrank"] = std::move(phyrank);
  j["log2phy"] = std::move(log2phy);
  j["logcnt"] = std::move(logcnt);
  std::vector<int> gpu_of_slot(p.topology.slots);
  for (int s = 0; s < p.topology.slots; ++s) gpu_of_slot[s] = p.gpu_of_slot(s);
  j["gpu_of_slot"] = gpu_of_slot;
  return j;
}

Placement placement_from_json(const json& j) {
  if (!j.is_object()) fail(Errc::invalid_argument, "placement JSON: expected an object");
  Placement p;
  p.topology.slots = get_int(j, "slots");
  p.topology.groups = j.contains("groups") ? get_int(j, "groups") : 1;
  p.topology.nodes = get_int(j, "nodes");
  p.topology.gpus = get_int(j, "gpus");
  p.experts = get_int(j, "experts");
  p.policy = j.contains("policy") && j["policy"].is_string() ? parse_eplb_policy(j["policy"].get<std::string>())
                                                              : EplbPolicy::global;
  if (p.policy == EplbPolicy::automatic) p.policy = EplbPolicy::global;
  const EplbTopology& t = p.topology;
  if (t.slots <= 0 || t.gpus <= 0 || t.nodes <= 0 || t.slots % t.gpus != 0 || t.gpus % t.nodes != 0 || p.experts <= 0)
    fail(Errc::invalid_argument, "placement JSON: slots, GPUs and nodes must be positive and divide evenly");
  if (!j.contains("phy2log") || !j["phy2log"].is_array())
    fail(Errc::invalid_argument, "placement JSON: missing \"phy2log\" array");
  const bool has_rank = j.contains("phyrank") && j["phyrank"].is_array() && j["phyrank"].size() == j["phy2log"].size();
  for (size_t l = 0; l < j["phy2log"].size(); ++l) {
    const json& row = j["phy2log"][l];
    LayerPlacement layer;
    if (!row.is_array() || int(row.size()) != t.slots)
      fail(Errc::invalid_argument, "placement JSON: each phy2log row needs " + std::to_string(t.slots) + " slots");
    for (const auto& v : row) {
      if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() >= p.experts)
        fail(Errc::invalid_argument, "placement JSON: phy2log entries must be expert ids in [0, experts)");
      layer.phy2log.push_back(v.get<int>());
    }
    rebuild_layer_maps(layer, p.experts);
    if (has_rank) {  // keep the writer's replica order; it must be a numbering 0..count−1 per expert
      const json& ranks = j["phyrank"][l];
      if (!ranks.is_array() || int(ranks.size()) != t.slots)
        fail(Errc::invalid_argument, "placement JSON: each phyrank row needs " + std::to_string(t.slots) + " slots");
      std::vector<std::vector<char>> used(p.experts);
      for (int e = 0; e < p.experts; ++e) used[e].assign(layer.logcnt[e], 0);
      for (int s = 0; s < t.slots; ++s) {
        const int e = layer.phy2log[s];
        const int r = ranks[s].is_number_integer() ? ranks[s].get<int>() : -1;
        if (r < 0 || r >= layer.logcnt[e] || used[e][r])
          fail(Errc::invalid_argument, "placement JSON: phyrank of slot " + std::to_string(s) + " in layer " +
                                           std::to_string(l) + " is not a free replica index of expert " +
                                           std::to_string(e));
        used[e][r] = 1;
        layer.phyrank[s] = r;
      }
    }
    p.layers.push_back(std::move(layer));
  }
  set_max_replicas(p);
  check_placement(p);
  return p;
}

Placement read_placement(const std::string& path) {
  const std::string text = detail::read_text_file(path, "placement");
  try {
    return placement_from_json(json::parse(text));
  } catch (const json::exception& e) {
    fail(Errc::invalid_argument, path + ": not valid JSON: " + e.what());
  }
}

}  // namespace shapejit::planner
