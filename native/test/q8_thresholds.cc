/* Compares the 8-bit kernels' quantizer (adam_q8_body.h's encode over q8_code_tables.h, here
 * its scalar instance, which native/test/lowbit_check.cc holds every vector kernel's to) with
 * torchao's rule for all 2^32 float32 patterns y, both maps. lowbit_check, run by
 * scripts/test-kernels.sh, tries the ends of every bucket and both sides of every threshold,
 * which covers every y given that torchao's code never decreases as y grows; this makes no such
 * assumption.
 *
 * Build and run (minutes; not in CI; exit 0: no mismatch):
 *   g++ -std=c++17 -O2 -ffp-contract=off -Inative native/test/q8_thresholds.cc -o q8_thresholds
 *   ./q8_thresholds */
#include <stdint.h>
#include <stdio.h>

#include "kernels/adam_q8_body.h"
#include "harness.h"

int main() {
  const char *names[2] = {"signed", "unsigned"};
  bool ok = true;
  for (int is_unsigned = 0; is_unsigned < 2; ++is_unsigned) {
    const float *qmap = is_unsigned ? qmap_unsigned : qmap_signed;
    uint64_t bad = 0;
    for (uint64_t b = 0; b <= 0xffffffffull; ++b) {
      const float y = from_bits((uint32_t)b);
      uint8_t code;
      encode_values<scalar_ops>(&y, 1, is_unsigned != 0, &code);
      if (code != torchao_code(qmap, y) && bad++ < 10) fprintf(stderr, "%s: y bits %08x\n", names[is_unsigned], (unsigned)b);
    }
    printf("%s map: %llu mismatches over all 2^32 float32 y\n", names[is_unsigned], (unsigned long long)bad);
    ok = ok && bad == 0;
  }
  return ok ? 0 : 1;
}
