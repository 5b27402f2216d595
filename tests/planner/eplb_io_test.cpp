// Loads files and placement JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "shapejit/error.hpp"
#include "shapejit/planner/eplb_io.hpp"

using namespace shapejit::planner;

TEST(EplbIo, TextAndJsonLoadsParseToTheSameRows) {
  const ExpertLoads a = parse_loads("# two layers\n1 2, 3\t4\n\n5 6 7 8  # trailing\n");
  const ExpertLoads b = parse_loads("[[1,2,3,4],[5,6,7,8]]");
  const ExpertLoads c = parse_loads(R"({"loads": [[1,2,3,4],[5,6,7,8]]})");
  for (const ExpertLoads* l : {&a, &b, &c}) {
    EXPECT_EQ(l->layers, 2);
    EXPECT_EQ(l->experts, 4);
    EXPECT_EQ(l->values, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  }
}

TEST(EplbIo, MalformedLoadsSayWhere) {
  auto message = [](const std::string& text) {
    try {
      parse_loads(text, "f");
    } catch (const shapejit::Error& e) {
      EXPECT_EQ(e.code(), shapejit::Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("1 2 3\n4 5\n").find("layer 1 has 2"), std::string::npos);
  EXPECT_NE(message("1 x 3\n").find("f:1"), std::string::npos);
  EXPECT_NE(message("[[1, \"a\"]]").find("expert 1"), std::string::npos);
  EXPECT_NE(message("[[1, 2]").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message("").find("no layers"), std::string::npos);
  EXPECT_THROW(read_loads("/nonexistent/loads.txt"), shapejit::Error);
}

TEST(EplbIo, PlacementJsonRoundTrips) {
  const ExpertLoads loads{2, 12, {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86,
                                  20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}};
  const Placement p = plan_eplb(loads, {16, 4, 2, 8});
  const nlohmann::json j = placement_to_json(p);
  EXPECT_EQ(j["phy2log"][1][0], 7);
  EXPECT_EQ(j["gpu_of_slot"][15], 7);
  const Placement q = placement_from_json(j);
  EXPECT_EQ(q.policy, p.policy);
  for (size_t l = 0; l < p.layers.size(); ++l) {
    EXPECT_EQ(q.layers[l].phy2log, p.layers[l].phy2log);
    EXPECT_EQ(q.layers[l].logcnt, p.layers[l].logcnt);
    EXPECT_EQ(q.layers[l].log2phy, p.layers[l].log2phy);
  }
  nlohmann::json broken = j;
  broken["phy2log"][0][3] = 99;
  EXPECT_THROW(placement_from_json(broken), shapejit::Error);
}
