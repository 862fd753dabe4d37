#include "claims.h"

#include <algorithm>
#include <mutex>

namespace {

struct live_claim {
  uint64_t id;
  const std::vector<byte_range> *ranges;
};

struct registry {
  std::mutex lock;
  std::vector<live_claim> live;
  uint64_t next_id = 1;
};

/* Never destroyed: a worker's step may still release a claim while the process exits. */
registry &the_registry() {
  static registry *r = new registry();
  return *r;
}

}  // namespace

void add_range(std::vector<byte_range> *out, const void *data, size_t bytes, bool write) {
  if (data == nullptr || bytes == 0) return;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  out->push_back({begin, begin + bytes, write});
}

void normalize_ranges(std::vector<byte_range> *ranges) {
  std::vector<byte_range> &r = *ranges;
  const auto by_address = [](const byte_range &a, const byte_range &b) { return a.begin < b.begin; };
  if (!std::is_sorted(r.begin(), r.end(), by_address)) std::sort(r.begin(), r.end(), by_address);
  size_t out = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].end <= r[i].begin) continue;
    /* Touching ranges of one mode merge; overlapping ranges merge whatever their modes (then the
     * whole writes: conservative, and only a plan that reads and writes one byte makes it). */
    if (out > 0 && (r[i].begin < r[out - 1].end || (r[i].begin == r[out - 1].end && r[i].write == r[out - 1].write))) {
      r[out - 1].end = std::max(r[out - 1].end, r[i].end);
      r[out - 1].write = r[out - 1].write || r[i].write;
    } else {
      r[out++] = r[i];
    }
  }
  r.resize(out);
}

bool ranges_conflict(const std::vector<byte_range> &a, const std::vector<byte_range> &b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].end <= b[j].begin) ++i;
    else if (b[j].end <= a[i].begin) ++j;
    else if (a[i].write || b[j].write) return true;
    else if (a[i].end < b[j].end) ++i;
    else ++j;
  }
  return false;
}

uint64_t claims_acquire(const std::vector<byte_range> *ranges) {
  registry &r = the_registry();
  std::lock_guard<std::mutex> hold(r.lock);
  for (const live_claim &c : r.live)
    if (ranges_conflict(*c.ranges, *ranges)) return 0;
  const uint64_t id = r.next_id++;
  r.live.push_back({id, ranges});
  return id;
}

void claims_release(uint64_t id) {
  registry &r = the_registry();
  std::lock_guard<std::mutex> hold(r.lock);
  for (size_t i = 0; i < r.live.size(); ++i) {
    if (r.live[i].id != id) continue;
    r.live[i] = r.live.back();
    r.live.pop_back();
    return;
  }
}

bool claims_conflict(const std::vector<byte_range> &ranges) {
  registry &r = the_registry();
  std::lock_guard<std::mutex> hold(r.lock);
  for (const live_claim &c : r.live)
    if (ranges_conflict(*c.ranges, ranges)) return true;
  return false;
}

size_t claims_live(void) {
  registry &r = the_registry();
  std::lock_guard<std::mutex> hold(r.lock);
  return r.live.size();
}
