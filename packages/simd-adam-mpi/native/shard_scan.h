// What a reduce-scatter reports about the block it received, when asked: the first NaN or ±Inf
// and the sum of squares over given ranges, computed on the worker thread right after the
// reduction, so the event loop never walks the shard.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

struct ScanResult {
  int64_t first_non_finite = -1;
  double sum_sq = 0;
};

// ranges: [from, to) pairs of indices into x, in the order "first" refers to.
inline ScanResult ScanShard(const float* x, const std::vector<int>& ranges, bool sum_sq) {
  ScanResult out;
  for (size_t k = 0; k + 1 < ranges.size(); k += 2) {
    const float* v = x + ranges[k];
    const int n = ranges[k + 1] - ranges[k];
    // A compare per element and no early exit: this loop vectorizes; the search runs only once it
    // found something.
    bool bad = false;
    for (int i = 0; i < n; i++) bad |= !(std::fabs(v[i]) <= FLT_MAX);
    if (bad && out.first_non_finite < 0) {
      int i = 0;
      while (std::fabs(v[i]) <= FLT_MAX) i++;
      out.first_non_finite = ranges[k] + i;
    }
    // In order, in double: each square of a float32 is exact, so this is the plain sum.
    if (sum_sq) {
      double sum = out.sum_sq;
      for (int i = 0; i < n; i++) sum += static_cast<double>(v[i]) * static_cast<double>(v[i]);
      out.sum_sq = sum;
    }
  }
  return out;
}
