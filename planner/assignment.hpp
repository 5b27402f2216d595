#pragma once
// Maximum-weight perfect assignment on a square matrix (Hungarian method, O(n³)). Internal.
#include <vector>

namespace shapejit::planner::detail {

// weight[i * n + j] is the gain of giving column j to row i; returns column_of_row.
std::vector<int> max_weight_assignment(const std::vector<double>& weight, int n);

}  // namespace shapejit::planner::detail
