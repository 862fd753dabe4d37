/* The process-wide record of the memory that running steps and reductions read and write. The
 * thread pool is per process and JS isolates are per worker, while a SharedArrayBuffer gives two
 * workers the same addresses: so the record is kept natively, by address, for every
 * environment at once. An operation claims its byte ranges for as long as it runs; a claim that
 * would write memory another claim reads or writes, or read memory it writes, is refused. Two
 * claims that only read the same bytes coexist (two steps over one grad). */
#ifndef SIMD_ADAM_CLAIMS_H
#define SIMD_ADAM_CLAIMS_H

#include <stddef.h>
#include <stdint.h>

#include <vector>

struct byte_range {
  uintptr_t begin;
  uintptr_t end; /* exclusive */
  bool write;
};

/* Sorts by address and merges overlapping or touching ranges (a merged range writes if any part
 * did), so that two claims compare in one sweep. Empty ranges are dropped. */
void normalize_ranges(std::vector<byte_range> *ranges);

/* Appends [data, data + bytes) to `out` unless it is empty. */
void add_range(std::vector<byte_range> *out, const void *data, size_t bytes, bool write);

/* True if some byte is in both (normalized) lists and at least one of them writes it. */
bool ranges_conflict(const std::vector<byte_range> &a, const std::vector<byte_range> &b);

/* Registers `ranges` (normalized; the caller keeps the vector alive and unchanged until
 * claims_release) unless it conflicts with a live claim. Returns the claim's id (> 0), or 0 if
 * refused. Thread-safe. */
uint64_t claims_acquire(const std::vector<byte_range> *ranges);
void claims_release(uint64_t id);
/* True if `ranges` (normalized) conflicts with a live claim; registers nothing. */
bool claims_conflict(const std::vector<byte_range> &ranges);
/* Live claims, for tests. */
size_t claims_live(void);

/* Claims for the lifetime of a scope (a synchronous native call). */
class scoped_claim {
 public:
  explicit scoped_claim(const std::vector<byte_range> *ranges) : id_(claims_acquire(ranges)) {}
  ~scoped_claim() {
    if (id_) claims_release(id_);
  }
  scoped_claim(const scoped_claim &) = delete;
  scoped_claim &operator=(const scoped_claim &) = delete;
  bool held() const { return id_ != 0; }

 private:
  uint64_t id_;
};

#endif
