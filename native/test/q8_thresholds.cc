/* Derives the 8-bit quantizer's threshold tables (qmaps.h: qmap_*_thresholds) from torchao's
 * search, and with --exhaustive checks the threshold search against it for all 2^32 float32
 * patterns. torchao's code of y is a non-decreasing step function of y (the binary search's
 * floor code is, and within one floor code y - qmap[c] grows with y under round-to-nearest), so
 * it is the number of thresholds t_c <= y, t_c being the least float32 with code >= c; a NaN
 * compares false and gets 0, as in torchao.
 *
 * Usage: q8_thresholds            print both tables as C++ (pasted into qmaps.h)
 *        q8_thresholds --exhaustive   compare every float32 y, both maps (minutes; not in CI) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/qmaps.h"

namespace {

float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

/* torchao's rule, literally. */
uint32_t torchao_code(const float *qmap, float y) {
  uint32_t c = 0;
  for (uint32_t b = 128; b >= 1; b /= 2)
    if (y >= qmap[c + b - 0] && c + b <= 255) c += b;
  if (c < 255 && y - qmap[c] >= (qmap[c + 1] - qmap[c]) * 0.5f) c += 1;
  return c;
}

/* Floats in ascending order as unsigned keys (NaNs excluded by the callers). */
uint32_t key(uint32_t b) { return (b & 0x80000000u) ? ~b : b | 0x80000000u; }
uint32_t unkey(uint32_t k) { return (k & 0x80000000u) ? k & 0x7fffffffu : ~k; }

void thresholds(const float *qmap, float *t) {
  const uint32_t lo_key = key(0xff800000u), hi_key = key(0x7f800000u);
  for (uint32_t c = 1; c < 256; ++c) {
    uint32_t lo = lo_key, hi = hi_key; /* code(hi) >= c; find the least such key */
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (torchao_code(qmap, from_bits(unkey(mid))) >= c) hi = mid;
      else lo = mid + 1;
    }
    t[c] = from_bits(unkey(lo));
  }
}

/* Level b of the search tests t[c + b] with c a multiple of 2b: stored from 128 / b, so every
 * level of 8 or more starts on a 32-byte boundary. Entry 0 pads. */
void levels(const float *t, float *out) {
  for (uint32_t b = 128; b >= 1; b /= 2)
    for (uint32_t j = 0; j < 128 / b; ++j) out[128 / b + j] = t[j * 2 * b + b];
  out[0] = t[128];
}

uint32_t search(const float *lv, float y) {
  uint32_t c = 0;
  for (uint32_t b = 128; b >= 1; b /= 2)
    if (y >= lv[128 / b + c / (2 * b)]) c += b;
  return c;
}

}  // namespace

int main(int argc, char **argv) {
  const float *maps[2] = {qmap_signed, qmap_unsigned};
  const char *names[2] = {"qmap_signed_thresholds", "qmap_unsigned_thresholds"};
  const bool exhaustive = argc > 1 && strcmp(argv[1], "--exhaustive") == 0;
  for (int m = 0; m < 2; ++m) {
    float t[256], lv[256];
    thresholds(maps[m], t);
    levels(t, lv);
    if (exhaustive) {
      uint64_t bad = 0;
      for (uint64_t b = 0; b <= 0xffffffffull; ++b) {
        const float y = from_bits((uint32_t)b);
        if (search(lv, y) != torchao_code(maps[m], y) && bad++ < 10) fprintf(stderr, "%s: y bits %08x\n", names[m], (unsigned)b);
      }
      printf("%s: %llu mismatches over all 2^32 float32 y\n", names[m], (unsigned long long)bad);
      if (bad) return 1;
      continue;
    }
    printf("alignas(64) const float %s[256] = {\n", names[m]);
    for (int i = 0; i < 256; ++i) printf("%s%af%s", i % 4 == 0 ? "    " : "", lv[i], i % 4 == 3 ? ",\n" : ", ");
    printf("};\n");
  }
  return 0;
}
