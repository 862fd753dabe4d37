/* Compares the 8-bit kernels' quantizer (adam_q8_body.h's encode_values over q8_code_tables.h)
 * with torchao's rule for all 2^32 float32 patterns y, both maps: its scalar instance, which
 * native/test/lowbit_check.cc holds every vector kernel's to, and, built with -mavx512f, the
 * AVX-512 one as well. lowbit_check, run by scripts/test-kernels.sh, tries the ends of every
 * bucket and both sides of every threshold, which covers every y given that torchao's code never
 * decreases as y grows; this makes no such assumption.
 *
 * Build and run (minutes; not in CI; exit 0: no mismatch):
 *   g++ -std=c++17 -O2 -ffp-contract=off [-mavx512f] -Inative native/test/q8_thresholds.cc -o q8_thresholds
 *   ./q8_thresholds */
#include <stdint.h>
#include <stdio.h>

#include <vector>

#include "kernels/adam_q8_body.h"
#ifdef __AVX512F__
#include "kernels/ops_avx512.h"
#endif
#include "harness.h"

/* Mismatches of O's quantizer over all 2^32 y, a million at a time. */
template <class O>
uint64_t mismatches(const char *isa, bool is_unsigned) {
  const float *qmap = is_unsigned ? qmap_unsigned : qmap_signed;
  std::vector<float> ys(1 << 20);
  std::vector<uint8_t> codes(ys.size());
  uint64_t bad = 0;
  for (uint64_t start = 0; start <= 0xffffffffull; start += ys.size()) {
    for (size_t k = 0; k < ys.size(); ++k) ys[k] = from_bits((uint32_t)(start + k));
    encode_values<O>(ys.data(), ys.size(), 1.0f, is_unsigned, codes.data());
    for (size_t k = 0; k < ys.size(); ++k)
      if (codes[k] != torchao_code(qmap, ys[k]) && bad++ < 10)
        fprintf(stderr, "%s, %s map: y bits %08x\n", isa, is_unsigned ? "unsigned" : "signed", (unsigned)(start + k));
  }
  printf("%s, %s map: %llu mismatches over all 2^32 float32 y\n", isa, is_unsigned ? "unsigned" : "signed", (unsigned long long)bad);
  return bad;
}

int main() {
  uint64_t bad = 0;
  for (int is_unsigned = 0; is_unsigned < 2; ++is_unsigned) {
    bad += mismatches<scalar_ops>("scalar", is_unsigned != 0);
#ifdef __AVX512F__
    bad += mismatches<avx512_ops>("avx512", is_unsigned != 0);
#endif
  }
  return bad == 0 ? 0 : 1;
}
