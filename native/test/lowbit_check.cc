/* Checks every vector kernel for bfloat16 and 8-bit state against the scalar one of its family,
 * bit for bit (any NaN equals any NaN: x86 and Arm make different default NaNs): every flag
 * combination, lengths across vector and block boundaries, misaligned starts, ordinary and
 * hostile values (NaN, ±Inf, subnormals, which AVX512_BF16's conversion would flush), and guard
 * elements around every array so an overrun shows. For 8-bit state it also checks that a run cut
 * on block boundaries gives the result of one call, as the thread pool cuts it, and that every
 * kernel's quantizer gives torchao's code at every y that could tell them apart (the ends of
 * every bucket of its tables and both sides of every threshold). Built by
 * scripts/test-kernels.sh at the baseline, natively and for aarch64 under qemu.
 *
 * Usage: lowbit_check   (exit 0: all checked kernels agree; 1: a mismatch, printed) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "kernels/adam_lowbit.h"
#include "kernels/q8_code_tables.h"
#include "harness.h"

namespace {

bool nan32(uint32_t b) { return (b & 0x7fffffffu) > 0x7f800000u; }
bool nan16(uint16_t b) { return (b & 0x7fffu) > 0x7f80u; }
bool same32(uint32_t a, uint32_t b) { return a == b || (nan32(a) && nan32(b)); }
bool same16(uint16_t a, uint16_t b) { return a == b || (nan16(a) && nan16(b)); }

const uint32_t kSpecials[] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc12345u,
                              0x7f800001u, 0x7f7fffffu, 0x60ad78ecu, 0x1e3ce508u, 0x00800000u, 0x00000001u,
                              0x807fffffu, 0x000116c2u, 0x3f800000u, 0x7f7f8000u, 0x3f808000u, 0x3f818000u};
const uint32_t kSpecialCount = sizeof kSpecials / sizeof kSpecials[0];

/* mode 0: ordinary values; 1: a third special; 2: mostly special. */
float draw(Rng &r, int mode, bool nonnegative, int emin, int emax) {
  const uint32_t per12 = mode == 0 ? 0 : mode == 1 ? 4 : 9;
  if (r.below(12) < per12) return from_bits(kSpecials[r.below(kSpecialCount)]);
  const double significand = 1.0 + r.unit(); /* drawn first on every compiler: argument order is not fixed */
  const double x = ldexp(significand, emin + (int)r.below((uint32_t)(emax - emin + 1)));
  return (float)((nonnegative || (r.next() & 1)) ? x : -x);
}

adam_scalars_f32 scalars(double lr, double wd, double step, uint32_t flags) {
  const double b1 = 0.9, b2 = 0.999;
  adam_scalars_f32 s = {(float)b1, (float)(1 - b1), (float)b2, (float)(1 - b2), 1e-8f, (float)wd, (float)(1 - lr * wd),
                        (float)sqrt(1 - pow(b2, step)), (float)(-(lr / (1 - pow(b1, step)))), flags};
  return s;
}

std::vector<uint32_t> flag_combinations() {
  std::vector<uint32_t> out;
  const uint32_t decay[] = {0u, (uint32_t)ADAM_COUPLED_DECAY, (uint32_t)ADAM_DECOUPLED_DECAY};
  for (uint32_t ams = 0; ams < 2; ++ams)
    for (uint32_t max = 0; max < 2; ++max)
      for (uint32_t d : decay) out.push_back((ams ? (uint32_t)ADAM_AMSGRAD : 0u) | (max ? (uint32_t)ADAM_MAXIMIZE : 0u) | d);
  return out;
}

/* Guards wider than a block's vector tail and than one AVX-512 vector of codes. */
const size_t kLowbitGuard = 32;
int failures = 0;

void fail(const char *family, const char *kernel, const char *what, size_t n, size_t offset, uint32_t flags, int mode,
          size_t i) {
  if (++failures <= 10)
    fprintf(stderr, "lowbit_check: %s %s differs from scalar: %s[%zu] (n=%zu offset=%zu flags=%u mode=%d)\n", family,
            kernel, what, i, n, offset, flags, mode);
}

/* ---- bfloat16 ---------------------------------------------------------------------------- */

struct Bf16Case {
  std::vector<float> param, grad;
  std::vector<uint16_t> m, v, x;
};

Bf16Case bf16_case(Rng &r, size_t len, int mode) {
  Bf16Case c;
  for (size_t i = 0; i < len; ++i) {
    c.param.push_back(draw(r, mode, false, -12, 4));
    c.grad.push_back(draw(r, mode, false, -24, 6));
    c.m.push_back((uint16_t)(bits_of(draw(r, mode, false, -24, 2)) >> 16));
    c.v.push_back((uint16_t)(bits_of(draw(r, mode, true, -48, 4)) >> 16));
    c.x.push_back((uint16_t)(bits_of(draw(r, mode, true, -48, 4)) >> 16));
  }
  return c;
}

void run_bf16(adam_step_bf16_fn fn, Bf16Case &c, size_t n, size_t off, const adam_scalars_f32 &s) {
  adam_tensor_bf16 t = {c.param.data() + kLowbitGuard + off, c.grad.data() + kLowbitGuard + off, c.m.data() + kLowbitGuard + off,
                        c.v.data() + kLowbitGuard + off, (s.flags & ADAM_AMSGRAD) ? c.x.data() + kLowbitGuard + off : nullptr};
  fn(&t, n, &s);
}

void check_bf16(const char *name, adam_step_bf16_fn fn) {
  const std::vector<uint32_t> combos = flag_combinations();
  for (size_t ci = 0; ci < combos.size(); ++ci)
    for (int mode = 0; mode < 3; ++mode)
      for (size_t n = 0; n <= 3 * 16 + 1; ++n)
        for (size_t off = 0; off < 4; ++off) {
          Rng r(1 + ci * 100000 + mode * 10000 + n * 10 + off);
          const adam_scalars_f32 s = scalars(1e-3, (combos[ci] & (uint32_t)(ADAM_COUPLED_DECAY | ADAM_DECOUPLED_DECAY)) ? 0.05 : 0.0,
                                             1 + (double)(n % 7), combos[ci]);
          Bf16Case a = bf16_case(r, n + off + 2 * kLowbitGuard, mode), b = a;
          run_bf16(adam_step_bf16_scalar, a, n, off, s);
          run_bf16(fn, b, n, off, s);
          for (size_t i = 0; i < a.param.size(); ++i) {
            if (!same32(bits_of(a.param[i]), bits_of(b.param[i]))) fail("bf16", name, "param", n, off, combos[ci], mode, i);
            if (!same16(a.m[i], b.m[i])) fail("bf16", name, "exp_avg", n, off, combos[ci], mode, i);
            if (!same16(a.v[i], b.v[i])) fail("bf16", name, "exp_avg_sq", n, off, combos[ci], mode, i);
            if (!same16(a.x[i], b.x[i])) fail("bf16", name, "max_exp_avg_sq", n, off, combos[ci], mode, i);
          }
        }
}

/* ---- 8-bit --------------------------------------------------------------------------------- */

struct Q8Case {
  std::vector<float> param, grad;
  std::vector<uint8_t> codes[3];
  std::vector<float> scale[3];
};

Q8Case q8_case(Rng &r, size_t len, size_t blocks, int mode) {
  Q8Case c;
  for (size_t i = 0; i < len; ++i) {
    c.param.push_back(draw(r, mode, false, -12, 4));
    c.grad.push_back(draw(r, mode, false, -24, 6));
    for (int j = 0; j < 3; ++j) c.codes[j].push_back((uint8_t)r.below(256));
  }
  for (size_t b = 0; b < blocks; ++b)
    for (int j = 0; j < 3; ++j) c.scale[j].push_back(r.below(8) == 0 ? 0.0f : draw(r, mode / 2, true, -40, 2));
  return c;
}

/* Elements [from, from + n) of the case's run, which starts at kLowbitGuard + off (a block start). */
void run_q8(adam_step_q8_fn fn, Q8Case &c, size_t from, size_t n, size_t off, const adam_scalars_f32 &s) {
  const size_t e = kLowbitGuard + off + from, blk = 1 + from / ADAM_Q8_BLOCK;
  const bool ams = (s.flags & ADAM_AMSGRAD) != 0;
  adam_tensor_q8 t = {c.param.data() + e,
                      c.grad.data() + e,
                      {c.codes[0].data() + e, c.scale[0].data() + blk},
                      {c.codes[1].data() + e, c.scale[1].data() + blk},
                      {ams ? c.codes[2].data() + e : nullptr, ams ? c.scale[2].data() + blk : nullptr}};
  fn(&t, n, &s);
}

void compare_q8(const char *name, const Q8Case &a, const Q8Case &b, size_t n, size_t off, uint32_t flags, int mode) {
  static const char *const codes[3] = {"exp_avg.codes", "exp_avg_sq.codes", "max_exp_avg_sq.codes"};
  static const char *const scales[3] = {"exp_avg.scale", "exp_avg_sq.scale", "max_exp_avg_sq.scale"};
  for (size_t i = 0; i < a.param.size(); ++i) {
    if (!same32(bits_of(a.param[i]), bits_of(b.param[i]))) fail("q8", name, "param", n, off, flags, mode, i);
    for (int j = 0; j < 3; ++j)
      if (a.codes[j][i] != b.codes[j][i]) fail("q8", name, codes[j], n, off, flags, mode, i);
  }
  for (int j = 0; j < 3; ++j)
    for (size_t i = 0; i < a.scale[j].size(); ++i)
      if (!same32(bits_of(a.scale[j][i]), bits_of(b.scale[j][i]))) fail("q8", name, scales[j], n, off, flags, mode, i);
}

void check_q8(const char *name, adam_step_q8_fn fn) {
  const size_t lengths[] = {0, 1, 3, 15, 16, 17, 33, 255, 256, 257, 300, 512, 3 * 256 + 1};
  const std::vector<uint32_t> combos = flag_combinations();
  for (size_t ci = 0; ci < combos.size(); ++ci)
    for (int mode = 0; mode < 3; ++mode)
      for (size_t n : lengths)
        for (size_t off = 0; off < 4; ++off) {
          Rng r(7 + ci * 100000 + mode * 10000 + n * 10 + off);
          const adam_scalars_f32 s = scalars(1e-3, (combos[ci] & (uint32_t)(ADAM_COUPLED_DECAY | ADAM_DECOUPLED_DECAY)) ? 0.05 : 0.0,
                                             1 + (double)(n % 7), combos[ci]);
          const size_t blocks = (n + ADAM_Q8_BLOCK - 1) / ADAM_Q8_BLOCK + 2;
          Q8Case a = q8_case(r, n + off + 2 * kLowbitGuard, blocks, mode), b = a, c = a;
          run_q8(adam_step_q8_scalar, a, 0, n, off, s);
          run_q8(fn, b, 0, n, off, s);
          compare_q8(name, a, b, n, off, combos[ci], mode);
          /* The same run cut into block-aligned pieces, as the thread pool cuts it. */
          for (size_t from = 0; from < n; from += ADAM_Q8_BLOCK)
            run_q8(fn, c, from, n - from < (size_t)ADAM_Q8_BLOCK ? n - from : (size_t)ADAM_Q8_BLOCK, off, s);
          compare_q8(name, a, c, n, off, combos[ci], mode);
        }
}

/* Every y worth trying on a quantizer: both ends of every bucket of the code tables
 * (q8_code_tables.h), the floats around every threshold, the clamp's ends and beyond, zeros,
 * subnormals, infinities and NaNs. torchao's code never decreases as y grows, and an encoder
 * that reads one bucket's entry is a step function with at most one step inside the bucket, at
 * its threshold: agreeing at a bucket's two ends and on both sides of that threshold, the two
 * agree on the whole bucket. So passing these y means agreeing on every float32 y. */
std::vector<float> q8_probe_values(const q8_layout &l) {
  std::vector<float> ys;
  auto add_key = [&ys](uint32_t key) { ys.push_back(from_bits((key & 0x80000000u) ? key & 0x7fffffffu : ~key)); };
  for (uint32_t e = 103; e <= 126; ++e)
    for (uint32_t s = 0; s < 2; ++s)
      for (uint32_t j = 0; j < q8_buckets; ++j) {
        add_key(l.bucket(s, e, j, false));
        add_key(l.bucket(s, e, j, true));
      }
  for (int c = 1; c < 256; ++c)
    for (int d = -2; d <= 2; ++d) add_key(l.threshold[c] + d);
  const uint32_t specials[] = {0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x33800000u, 0x337fffffu, 0x33800001u,
                               0x3f7fffffu, 0x3f7ffffeu, 0x3f800000u, 0x40000000u, 0x7f7fffffu, 0x7f800000u, 0x7f800001u,
                               0x7fc00000u, 0x7fffffffu, 0x1e3ce508u, 0x2f800000u};
  for (uint32_t b : specials) {
    ys.push_back(from_bits(b));
    ys.push_back(from_bits(b | 0x80000000u));
  }
  return ys;
}

/* Each kernel's own quantizer against torchao's rule, both maps (scale 1: y = x exactly). */
void check_encoder(const char *name, adam_q8_encode_fn fn) {
  for (int is_unsigned = 0; is_unsigned < 2; ++is_unsigned) {
    const float *qmap = is_unsigned ? qmap_unsigned : qmap_signed;
    const std::vector<float> ys =
        q8_probe_values(is_unsigned ? q8_unsigned_layout : q8_signed_layout);
    std::vector<uint8_t> codes(ys.size());
    fn(ys.data(), ys.size(), 1.0f, is_unsigned, codes.data());
    for (size_t i = 0; i < ys.size(); ++i)
      if (codes[i] != torchao_code(qmap, ys[i]) && ++failures <= 10)
        fprintf(stderr, "lowbit_check: %s quantizer (%s map): y bits %08x gives code %u, torchao %u\n", name,
                is_unsigned ? "unsigned" : "signed", bits_of(ys[i]), codes[i], torchao_code(qmap, ys[i]));
  }
}

/* Scales for check_quotients: ordinary ones (random significands, the kernels' least scale, powers
 * of two whose inverse is exact, significands whose inverse rounds far) and those whose inverse is
 * not a normal float, which the kernels divide by throughout. */
std::vector<float> quotient_scales() {
  std::vector<float> out = {1e-12f, 1.0f, 0x1p-20f, 0x1.fffffep0f, 3.0f, 0.1f, 1.1754944e-38f, 0x1.fffffep125f,
                            0x1p126f, 3.4e38f, 1e-40f, from_bits(0x7f800000u), from_bits(0x7fc00000u)};
  Rng r(2026);
  while (out.size() < 64) {
    const double significand = 1.0 + r.unit(); /* drawn first on every compiler: argument order is not fixed */
    out.push_back((float)ldexp(significand, (int)r.below(81) - 40));
  }
  return out;
}

/* Each kernel's quantizer on x / scale, which it finds as x * (1 / scale) unless a lane comes
 * within q8_slack keys of a threshold (adam_q8_body.h): against torchao's rule on the quotient
 * proper, for x whose x / scale lands within 8 keys either side of every threshold, over many
 * scales, plus random blocks. Counts the x whose product x * (1 / scale) alone would have the
 * wrong code, so these probes can tell a kernel that trusts the product too far from one that
 * does not; returns that count. */
uint64_t check_quotients(const char *name, adam_q8_encode_fn fn) {
  uint64_t product_wrong = 0;
  const std::vector<float> scales = quotient_scales();
  for (int is_unsigned = 0; is_unsigned < 2; ++is_unsigned) {
    const float *qmap = is_unsigned ? qmap_unsigned : qmap_signed;
    const q8_layout &l = is_unsigned ? q8_unsigned_layout : q8_signed_layout;
    Rng r(11 + is_unsigned);
    for (float scale : scales) {
      std::vector<float> xs;
      for (int c = 1; c < 256; ++c)
        for (int d = -8; d <= 8; ++d) {
          const uint32_t key = l.threshold[c] + d;
          const float y = from_bits((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
          const uint32_t x0 = bits_of(y * scale);
          for (int e = -2; e <= 2; ++e) xs.push_back(from_bits(x0 + e));
        }
      for (int i = 0; i < 4 * ADAM_Q8_BLOCK; ++i) xs.push_back((float)((2 * r.unit() - 1) * scale));
      std::vector<uint8_t> codes(xs.size());
      fn(xs.data(), xs.size(), scale, is_unsigned, codes.data());
      const float inverse = 1.0f / scale;
      for (size_t i = 0; i < xs.size(); ++i) {
        const uint32_t want = torchao_code(qmap, xs[i] / scale);
        product_wrong += torchao_code(qmap, xs[i] * inverse) != want;
        if (codes[i] != want && ++failures <= 10)
          fprintf(stderr, "lowbit_check: %s quantizer (%s map): x bits %08x / scale bits %08x gives code %u, torchao %u\n", name,
                  is_unsigned ? "unsigned" : "signed", bits_of(xs[i]), bits_of(scale), codes[i], want);
      }
    }
  }
  return product_wrong;
}

/* Whole 8-bit steps whose new moments are known: beta1 = beta2 = 0 make exp_avg = g and
 * exp_avg_sq = g * g exactly, so the harness knows every block's scale and every code. Each block
 * holds its scale s (g = s) and g whose g / s, or g * g / s^2, lands within 8 keys of a
 * threshold: the kernel must notice the lanes where x * (1 / scale) could have another code and
 * quantize their block again by dividing. One block's scale has no normal inverse (g * g is
 * Inf). Returns how many codes x * (1 / scale) alone would get wrong, so a kernel that trusted it
 * would fail here. */
uint64_t check_q8_near(const char *name, adam_step_q8_fn fn) {
  const size_t blocks = 48, n = blocks * ADAM_Q8_BLOCK;
  uint64_t product_wrong = 0;
  for (int ams = 0; ams < 2; ++ams) {
    Rng r(99 + ams);
    std::vector<float> param(n, 0.5f), grad(n);
    for (size_t b = 0; b < blocks; ++b) {
      const double significand = 1.0 + r.unit(); /* drawn first: argument order is not fixed */
      float s = (float)ldexp(significand, (int)r.below(40) - 20);
      if (b == 5) s = 2e20f; /* s * s overflows: exp_avg_sq's scale is Inf */
      const float s2 = s * s;
      grad[b * ADAM_Q8_BLOCK] = r.below(2) ? s : -s;
      for (size_t i = 1; i < ADAM_Q8_BLOCK; ++i) {
        const bool for_v = r.below(2) != 0;
        const q8_layout &l = for_v ? q8_unsigned_layout : q8_signed_layout;
        const uint32_t c = 1 + r.below(255);
        const uint32_t key = l.threshold[c] + (int)r.below(17) - 8;
        const float y = from_bits((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
        float g = for_v ? sqrtf(y * s2) : y * s;
        g = from_bits(bits_of(g) + (int)r.below(5) - 2);
        grad[b * ADAM_Q8_BLOCK + i] = (fabsf(g) <= s) ? g : s;
      }
    }
    std::vector<uint8_t> codes[3];
    std::vector<float> scales[3];
    for (int j = 0; j < 3; ++j) {
      codes[j].assign(n, j == 0 ? 127 : 0);
      scales[j].assign(blocks, 0.0f);
    }
    const adam_scalars_f32 sc = {0.0f, 1.0f, 0.0f, 1.0f, 1e-8f, 0.0f, 1.0f, 1.0f, -1e-3f, ams ? (uint32_t)ADAM_AMSGRAD : 0u};
    adam_tensor_q8 t = {param.data(), grad.data(), {codes[0].data(), scales[0].data()}, {codes[1].data(), scales[1].data()},
                        {ams ? codes[2].data() : nullptr, ams ? scales[2].data() : nullptr}};
    fn(&t, n, &sc);
    for (size_t b = 0; b < blocks; ++b)
      for (int j = 0; j < (ams ? 3 : 2); ++j) {
        const float *qmap = j == 0 ? qmap_signed : qmap_unsigned;
        float scale = 1e-12f;
        for (size_t i = b * ADAM_Q8_BLOCK; i < (b + 1) * ADAM_Q8_BLOCK; ++i) {
          const float x = j == 0 ? grad[i] : grad[i] * grad[i];
          scale = fabsf(x) > scale ? fabsf(x) : scale;
        }
        if (!same32(bits_of(scales[j][b]), bits_of(scale)) && ++failures <= 10)
          fprintf(stderr, "lowbit_check: %s near thresholds: block %zu moment %d scale %08x, want %08x\n", name, b, j,
                  bits_of(scales[j][b]), bits_of(scale));
        for (size_t i = b * ADAM_Q8_BLOCK; i < (b + 1) * ADAM_Q8_BLOCK; ++i) {
          const float x = j == 0 ? grad[i] : grad[i] * grad[i];
          const uint32_t want = torchao_code(qmap, x / scale);
          product_wrong += torchao_code(qmap, x * (1.0f / scale)) != want;
          if (codes[j][i] != want && ++failures <= 10)
            fprintf(stderr, "lowbit_check: %s near thresholds: element %zu moment %d (x %08x, scale %08x) code %u, torchao %u\n",
                    name, i, j, bits_of(x), bits_of(scale), codes[j][i], want);
        }
      }
  }
  return product_wrong;
}

/* A backend's kernels of both families and its quantizer; null where it has none. */
struct Family {
  adam_step_bf16_fn bf16;
  adam_step_q8_fn q8;
  adam_q8_encode_fn encode;
};

}  // namespace

int main() {
  [[maybe_unused]] const Cpu cpu = this_cpu();
  const std::vector<Backend<Family>> backends = {
      {"scalar (block cuts)", {nullptr, adam_step_q8_scalar, adam_q8_encode_scalar}, true},
#if defined(__x86_64__) || defined(_M_X64)
      {"avx2", {adam_step_bf16_avx2, adam_step_q8_avx2, adam_q8_encode_avx2}, cpu.avx2},
      {"avx512", {adam_step_bf16_avx512, adam_step_q8_avx512, adam_q8_encode_avx512}, cpu.avx512f},
      {"avx512bf16", {adam_step_bf16_avx512bf16, nullptr, nullptr}, cpu.avx512bf16},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
      {"neon", {adam_step_bf16_neon, adam_step_q8_neon, adam_q8_encode_neon}, true},
#endif
  };
  for (const Backend<Family> &b : backends) {
    if (!b.runs) {
      printf("   lowbit %-20s skipped: this CPU cannot run it\n", b.name);
      continue;
    }
    const Family &k = b.kernels;
    const int before = failures;
    if (k.bf16) check_bf16(b.name, k.bf16);
    if (k.q8) check_q8(b.name, k.q8);
    uint64_t product_wrong = 0;
    if (k.encode) {
      check_encoder(b.name, k.encode);
      product_wrong = check_quotients(b.name, k.encode) + check_q8_near(b.name, k.q8);
      /* Probes on which the bare product never errs could not catch a kernel that trusts it. */
      if (product_wrong < 100 && ++failures <= 10)
        fprintf(stderr, "lowbit_check: only %llu probes where x * (1 / scale) alone has the wrong code\n", (unsigned long long)product_wrong);
    }
    if (failures != before) printf("   lowbit %-20s MISMATCH\n", b.name);
    else if (k.encode)
      printf("   lowbit %-20s matches scalar, quantizer matches torchao (on x / scale too: %llu probes where x * (1 / scale) alone errs)\n",
             b.name, (unsigned long long)product_wrong);
    else printf("   lowbit %-20s matches scalar\n", b.name);
  }
  return failures == 0 ? 0 : 1;
}
