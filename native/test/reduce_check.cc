/* Checks every vector reduction compiled into this binary against the scalar one: all lengths
 * 0..49 (each vector width's main loop and every tail), starts at every 4-byte offset, zeros of
 * both signs, planted non-zero and non-finite values at every position, and hostile random
 * inputs. Exact operations (all-zero, first non-finite, max |x|, scale) must agree bit for bit;
 * the double-precision sums, whose order depends on the vector width, to 1e-12 relative.
 * Built by scripts/test-kernels.sh natively and, for NEON, cross-compiled and run under qemu.
 *
 * Usage: reduce_check   (exit 0: all checked kernels agree; 1: mismatch) */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "harness.h"
#include "kernels/reduce.h"

namespace {

bool same(float a, float b) { return bits_of(a) == bits_of(b) || (a != a && b != b); }

const float kSpecials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 3.4e38f, -3.4e38f, 1e-40f, -1e-40f, 1e-30f};

std::vector<Backend<reduce_kernels>> vector_kernels() {
  [[maybe_unused]] const Cpu cpu = this_cpu();
  return {
#if defined(__x86_64__) || defined(_M_X64)
      {"avx2", *reduce_kernels_avx2(), cpu.avx2},
      {"avx512", *reduce_kernels_avx512(), cpu.avx512f},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
      {"neon", *reduce_kernels_neon(), true},
#endif
  };
}

const reduce_kernels kScalar = *reduce_kernels_scalar();

bool close(double a, double b) {
  if (a != a || b != b) return a != a && b != b;
  if (isinf(a) || isinf(b)) return a == b;
  return fabs(a - b) <= 1e-12 * fabs(b);
}

/* Compares one input row (x at offset, length n) under both kernel sets; prints the first few
 * failures. Returns the number of mismatching operations. */
int compare(const char *name, const reduce_kernels &k, const float *x, size_t n, const char *what, size_t offset) {
  int bad = 0;
  auto fail = [&](const char *op) {
    if (++bad <= 3) printf("%s: %s differs from scalar (%s, n=%zu, offset=%zu)\n", name, op, what, n, offset);
  };
  if (k.all_zero(x, n) != kScalar.all_zero(x, n)) fail("all_zero");
  if (k.first_non_finite(x, n) != kScalar.first_non_finite(x, n)) fail("first_non_finite");
  if (!close(k.sum_sq(x, n), kScalar.sum_sq(x, n))) fail("sum_sq");
  if (!close(k.sum_abs(x, n), kScalar.sum_abs(x, n))) fail("sum_abs");
  if (!same(k.max_abs(x, n), kScalar.max_abs(x, n))) fail("max_abs");
  for (float factor : {0.3f, 1e-30f, -2.0f, NAN}) {
    alignas(64) float ours[kRow], ref[kRow];
    for (size_t i = 0; i < kRow; ++i) ours[i] = ref[i] = from_bits(kGuardBits);
    memcpy(ours + kGuard + offset, x, n * sizeof(float));
    memcpy(ref + kGuard + offset, x, n * sizeof(float));
    k.scale(ours + kGuard + offset, n, factor);
    kScalar.scale(ref + kGuard + offset, n, factor);
    for (size_t i = 0; i < kRow; ++i) {
      const bool inside = i >= kGuard + offset && i < kGuard + offset + n;
      if (inside ? !same(ours[i], ref[i]) : bits_of(ours[i]) != kGuardBits) {
        fail(inside ? "scale" : "scale (wrote outside its view)");
        break;
      }
    }
  }
  return bad;
}

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  bool ok = true;
  for (const Backend<reduce_kernels> &ks : vector_kernels()) {
    if (!ks.runs) {
      printf("%s reductions: SKIP (this CPU lacks the ISA)\n", ks.name);
      continue;
    }
    uint64_t cases = 0;
    int bad = 0;
    alignas(64) float row[kRow];
    for (size_t n = 0; n <= kMaxN; ++n) {
      for (size_t offset = 0; offset <= kMaxOffset; ++offset) {
        float *x = row + kGuard + offset;
        /* Zeros of both signs with one planted value at each position (or none). */
        for (float planted : {1e-45f, -1.0f, NAN, INFINITY, -INFINITY}) {
          for (size_t at = 0; at <= n; ++at) {
            for (size_t i = 0; i < n; ++i) x[i] = (i % 3) ? 0.0f : -0.0f;
            if (at < n) x[at] = planted;
            bad += compare(ks.name, ks.kernels, x, n, "planted", offset);
            ++cases;
          }
        }
        for (int mode = 0; mode < 2; ++mode) {
          Rng rng(1 + n * 8 + offset * 2 + mode);
          for (size_t i = 0; i < n; ++i) {
            if (mode == 1 && rng.unit() < 0.08)
              x[i] = kSpecials[rng.next() % (sizeof kSpecials / sizeof kSpecials[0])];
            else
              x[i] = static_cast<float>((rng.unit() * 2 - 1) * pow(10.0, static_cast<int>(rng.unit() * 5) - 2));
          }
          bad += compare(ks.name, ks.kernels, x, n, mode ? "random with specials" : "random", offset);
          ++cases;
        }
      }
    }
    if (bad == 0) {
      printf("%s reductions: PASS, agree with scalar (%" PRIu64 " cases)\n", ks.name, cases);
    } else {
      printf("%s reductions: FAIL, %d mismatches in %" PRIu64 " cases\n", ks.name, bad, cases);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
