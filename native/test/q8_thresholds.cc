/* Checks the 8-bit quantizer's threshold search (qmaps.h: threshold_code over the
 * qmap_*_thresholds levels, which qmaps.h builds at compile time) against torchao's rule
 * (torchao_code) for all 2^32 float32 patterns y, both maps. lowbit_check, run by
 * scripts/test-kernels.sh, checks both sides of every threshold, which covers every y given that
 * torchao's code never decreases as y grows; this makes no such assumption.
 *
 * Usage: q8_thresholds   (minutes; not in CI; exit 0: no mismatch) */
#include <stdint.h>
#include <stdio.h>

#include "kernels/qmaps.h"
#include "harness.h"

int main() {
  const float *maps[2] = {qmap_signed, qmap_unsigned};
  const float *levels[2] = {qmap_signed_thresholds, qmap_unsigned_thresholds};
  const char *names[2] = {"signed", "unsigned"};
  bool ok = true;
  for (int m = 0; m < 2; ++m) {
    uint64_t bad = 0;
    for (uint64_t b = 0; b <= 0xffffffffull; ++b) {
      const float y = from_bits((uint32_t)b);
      if (threshold_code(levels[m], y) != torchao_code(maps[m], y) && bad++ < 10)
        fprintf(stderr, "%s: y bits %08x\n", names[m], (unsigned)b);
    }
    printf("%s: %llu mismatches over all 2^32 float32 y\n", names[m], (unsigned long long)bad);
    ok = ok && bad == 0;
  }
  return ok ? 0 : 1;
}
