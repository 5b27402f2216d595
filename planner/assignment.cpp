#include "assignment.hpp"

#include <cstddef>
#include <limits>

namespace shapejit::planner::detail {

std::vector<int> max_weight_assignment(const std::vector<double>& weight, int n) {
  // Shortest augmenting paths with potentials on cost = −weight; rows and columns are 1-based
  // inside, index 0 is the virtual start column.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0);
  std::vector<int> row_of_col(n + 1, 0), way(n + 1, 0);
  for (int i = 1; i <= n; ++i) {
    row_of_col[0] = i;
    int col = 0;
    std::vector<double> min_to(n + 1, inf);
    std::vector<char> used(n + 1, 0);
    do {
      used[col] = 1;
      const int row = row_of_col[col];
      double delta = inf;
      int next = 0;
      for (int j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double reduced = -weight[std::size_t(row - 1) * n + (j - 1)] - u[row] - v[j];
        if (reduced < min_to[j]) {
          min_to[j] = reduced;
          way[j] = col;
        }
        if (min_to[j] < delta) {
          delta = min_to[j];
          next = j;
        }
      }
      for (int j = 0; j <= n; ++j) {
        if (used[j]) {
          u[row_of_col[j]] += delta;
          v[j] -= delta;
        } else {
          min_to[j] -= delta;
        }
      }
      col = next;
    } while (row_of_col[col] != 0);
    do {
      const int prev = way[col];
      row_of_col[col] = row_of_col[prev];
      col = prev;
    } while (col != 0);
  }
  std::vector<int> col_of_row(n, -1);
  for (int j = 1; j <= n; ++j)
    if (row_of_col[j] > 0) col_of_row[row_of_col[j] - 1] = j - 1;
  return col_of_row;
}

}  // namespace shapejit::planner::detail
