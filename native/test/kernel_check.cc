/* Checks every vector kernel compiled into this binary against adam_step_f32_scalar, bit for
 * bit, over all short lengths, misaligned starts, every flag combination and hostile inputs.
 * No Node: it is built by scripts/test-kernels.sh natively and, for NEON, with an aarch64 cross
 * compiler under qemu-aarch64, so the NEON kernel is tested on a machine without NEON.
 *
 * This translation unit is built at the baseline ISA; only the kernel objects carry ISA flags,
 * so calling a kernel the CPU lacks is guarded by __builtin_cpu_supports, as runtime/dispatch.cc does.
 *
 * Usage: kernel_check [--self-test-only]   (exit 0: all checked kernels agree; 1: mismatch) */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "harness.h"
#include "kernels/adam.h"

namespace {

enum Field { F_PARAM, F_GRAD, F_EXP_AVG, F_EXP_AVG_SQ, F_MAX, F_COUNT };
const char *const kFieldName[F_COUNT] = {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};

struct alignas(64) State {
  float row[F_COUNT][kRow];
};

bool is_nan_bits(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0; }

/* Bitwise, except that NaN payloads (and a NaN's sign) are not part of the contract: x86 and
 * Arm produce different default NaNs. Signs of zeros and infinities are compared. */
bool same(uint32_t a, uint32_t b) { return a == b || (is_nan_bits(a) && is_nan_bits(b)); }

/* splitmix64 to derive a seed from the case coordinates, xorshift64* to draw: every kernel sees
 * exactly the same cases, and a failure is reproducible from the printed coordinates. */
const uint32_t kSpecials[] = {
    0x00000000u, 0x80000000u,                            /* +0, -0 */
    0x7f800000u, 0xff800000u,                            /* +Inf, -Inf */
    0x7fc00000u, 0xffc00000u, 0x7fc12345u, 0x7f800001u,  /* NaNs: default, negative, payload, signalling */
    0x7f7fffffu, 0xff7fffffu,                            /* +/-FLT_MAX */
    0x7e967699u, 0xfe967699u,                            /* +/-1e38: squares and products overflow */
    0x60ad78ecu, 0xe0ad78ecu,                            /* +/-1e20: g*g overflows, g does not */
    0x1e3ce508u, 0x9e3ce508u,                            /* +/-1e-20: g*g underflows to subnormal/zero */
    0x00800000u, 0x80800000u,                            /* +/-FLT_MIN */
    0x00000001u, 0x80000001u,                            /* +/-smallest subnormal */
    0x007fffffu, 0x807fffffu,                            /* +/-largest subnormal */
    0x000116c2u,                                         /* 1e-40 */
    0x3f800000u, 0xbf800000u,                            /* +/-1: exact-arithmetic edge */
};
const uint32_t kSpecialCount = sizeof kSpecials / sizeof kSpecials[0];

/* Sign * [1, 2) * 2^e over a span wide enough that rounding is exercised in every operation. */
float ordinary(Rng &r, bool nonnegative, int emin, int emax) {
  const double mant = 1.0 + r.unit();
  const int e = emin + (int)r.below((uint32_t)(emax - emin + 1));
  const double x = ldexp(mant, e);
  return (float)((nonnegative || (r.next() & 1)) ? x : -x);
}

/* Mode 0: ordinary values only, the common path. Mode 1: a third special. Mode 2: mostly special,
 * so specials meet each other (NaN vs Inf in the amsgrad max, 0 * Inf, Inf - Inf, ...). */
const int kModes = 3;

float draw(Rng &r, int mode, Field f) {
  const uint32_t special_per_12 = mode == 0 ? 0 : mode == 1 ? 4 : 9;
  if (r.below(12) < special_per_12) return from_bits(kSpecials[r.below(kSpecialCount)]);
  switch (f) {
    case F_PARAM: return ordinary(r, false, -12, 4);
    case F_GRAD: return ordinary(r, false, -24, 6);
    case F_EXP_AVG: return ordinary(r, false, -24, 2);
    /* Second moments are non-negative in real use; negatives arrive only as specials. */
    default: return ordinary(r, true, -48, 4);
  }
}

/* Hyper-parameters as the TypeScript layer turns them into kernel scalars: in double, bias
 * corrections with pow (never by repeated multiplication), each rounded to float once. */
struct Hyper {
  const char *name;
  double lr, beta1, beta2, eps, weight_decay;
  double step;
};

adam_scalars_f32 scalars_from(const Hyper &h) {
  const double bias_correction1 = 1.0 - pow(h.beta1, h.step);
  const double bias_correction2 = 1.0 - pow(h.beta2, h.step);
  adam_scalars_f32 s;
  s.beta1 = (float)h.beta1;
  s.one_minus_beta1 = (float)(1.0 - h.beta1);
  s.beta2 = (float)h.beta2;
  s.one_minus_beta2 = (float)(1.0 - h.beta2);
  s.eps = (float)h.eps;
  s.weight_decay = (float)h.weight_decay;
  s.decay_factor = (float)(1.0 - h.lr * h.weight_decay);
  s.bias_correction2_sqrt = (float)sqrt(bias_correction2);
  s.neg_step_size = (float)(-(h.lr / bias_correction1));
  s.flags = 0;
  return s;
}

const Hyper kHypers[] = {
    {"default t=1", 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1},
    {"default t=10", 1e-3, 0.9, 0.999, 1e-8, 1e-2, 10},
    {"default t=1000", 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1000},
    {"default t=1e6", 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1e6},
    {"eps=0 t=3", 1e-3, 0.9, 0.999, 0.0, 1e-2, 3},
    {"beta1=0 t=1", 1e-3, 0.0, 0.999, 1e-8, 1e-2, 1},
    {"beta1=0 eps=0 t=7", 3e-4, 0.0, 0.999, 0.0, 1e-1, 7},
    {"lr=0", 0.0, 0.9, 0.999, 1e-8, 1e-2, 5},
    /* beta2 rounds to 1.0f while one_minus_beta2 stays 1e-8: the two are not complements. */
    {"beta2=1-1e-8 t=1", 1e-2, 0.9, 0.99999999, 1e-8, 0.0, 1},
    {"beta2=0 t=2", 1e-1, 0.99999, 0.0, 1e-6, 5e-4, 2},
    /* decay_factor = 1 - 1e40 rounds to -Inf; weight_decay 1e10 overflows g in coupled mode. */
    {"huge lr/wd", 1e30, 0.9, 0.999, 1e-8, 1e10, 1},
    /* neg_step_size and eps subnormal in float. */
    {"tiny lr/eps", 1e-40, 0.9, 0.999, 1e-45, 1e-30, 1},
};
const size_t kHyperCount = sizeof kHypers / sizeof kHypers[0];

/* Scalars no sane caller passes, to show each kernel is an operation-for-operation translation
 * of the scalar one rather than an algebraically equivalent rewrite. */
struct RawScalars {
  const char *name;
  adam_scalars_f32 s;
};
const RawScalars kRaw[] = {
    /* Negative zeros everywhere: v can be -0, so max(-0, +0) and sqrt(-0) are reached. */
    {"raw signed zeros", {-0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, 1.0f, -0.0f, 0}},
    /* Negative betas make v negative (sqrt -> NaN) and -0 reachable through ordinary inputs. */
    {"raw negative betas", {-0.5f, 1.5f, -1.0f, -1e-3f, 1e-8f, -2.0f, -1.0f, 1e-20f, 3e38f, 0}},
    {"raw infinities", {0.9f, 0.1f, 0.999f, 1e-3f, INFINITY, INFINITY, INFINITY, INFINITY, -INFINITY, 0}},
};
const size_t kRawCount = sizeof kRaw / sizeof kRaw[0];

const size_t kSettingCount = kHyperCount + kRawCount;

adam_scalars_f32 setting(size_t k, const char **name) {
  if (k < kHyperCount) {
    *name = kHypers[k].name;
    return scalars_from(kHypers[k]);
  }
  *name = kRaw[k - kHyperCount].name;
  return kRaw[k - kHyperCount].s;
}

/* amsgrad x maximize x {no decay, coupled, decoupled}: coupled and decoupled are exclusive. */
std::vector<uint32_t> flag_combinations() {
  std::vector<uint32_t> out;
  const uint32_t decay[] = {0u, (uint32_t)ADAM_COUPLED_DECAY, (uint32_t)ADAM_DECOUPLED_DECAY};
  for (uint32_t ams = 0; ams < 2; ++ams)
    for (uint32_t max = 0; max < 2; ++max)
      for (uint32_t d = 0; d < 3; ++d)
        out.push_back((ams ? (uint32_t)ADAM_AMSGRAD : 0u) | (max ? (uint32_t)ADAM_MAXIMIZE : 0u) | decay[d]);
  return out;
}

void flags_name(uint32_t f, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s%s%s", f == 0 ? "none" : "", (f & ADAM_AMSGRAD) ? "amsgrad " : "",
           (f & ADAM_MAXIMIZE) ? "maximize " : "", (f & ADAM_COUPLED_DECAY) ? "coupled " : "",
           (f & ADAM_DECOUPLED_DECAY) ? "decoupled " : "");
  const size_t l = strlen(buf);
  if (l > 0 && buf[l - 1] == ' ') buf[l - 1] = '\0';
}

adam_tensor_f32 view(State &st, size_t off, bool amsgrad) {
  const size_t b = kGuard + off;
  adam_tensor_f32 t = {st.row[F_PARAM] + b, st.row[F_GRAD] + b, st.row[F_EXP_AVG] + b,
                       st.row[F_EXP_AVG_SQ] + b, amsgrad ? st.row[F_MAX] + b : nullptr};
  return t;
}

struct Tally {
  uint64_t cases = 0, elements = 0, failed_cases = 0;
  int printed = 0;
};

const int kPrintLimit = 8;

void report_case(const char *kernel, const char *sname, uint32_t flags, size_t off, size_t n, int mode) {
  char fl[64];
  flags_name(flags, fl, sizeof fl);
  printf("  %s: mismatch in setting '%s', flags [%s], offset %zu, n %zu, input mode %d\n", kernel, sname,
         fl, off, n, mode);
}

/* Compares one case; returns false (and prints, within the limit) on the first problems found. */
bool compare_case(const char *kernel, const State &in, const State &ref, const State &got, size_t off,
                  size_t n, bool amsgrad, Tally &tally, const char *sname, uint32_t flags, int mode) {
  bool ok = true;
  bool header = false;
  int shown = 0;
  const size_t lo = kGuard + off, hi = kGuard + off + n;
  for (int f = 0; f < F_COUNT; ++f) {
    /* grad is read-only and max_exp_avg_sq is NULL without amsgrad: the whole row must survive. */
    const bool untouched = f == F_GRAD || (f == F_MAX && !amsgrad);
    for (size_t j = 0; j < kRow; ++j) {
      const uint32_t e = bits_of(ref.row[f][j]), g = bits_of(got.row[f][j]), o = bits_of(in.row[f][j]);
      const bool inside = j >= lo && j < hi && !untouched;
      const bool match = inside ? same(e, g) : (g == o && e == o);
      if (match) continue;
      ok = false;
      if (tally.printed >= kPrintLimit || shown >= 3) continue;
      if (!header) {
        report_case(kernel, sname, flags, off, n, mode);
        header = true;
      }
      ++shown;
      const long idx = (long)j - (long)lo;
      if (inside) {
        const size_t k = j;
        printf("    index %ld %s: scalar 0x%08" PRIx32 " (%.9g) %s 0x%08" PRIx32 " (%.9g)\n", idx, kFieldName[f],
               e, (double)from_bits(e), kernel, g, (double)from_bits(g));
        printf("      inputs: param 0x%08" PRIx32 " grad 0x%08" PRIx32 " exp_avg 0x%08" PRIx32
               " exp_avg_sq 0x%08" PRIx32 " max_exp_avg_sq 0x%08" PRIx32 "\n",
               bits_of(in.row[F_PARAM][k]), bits_of(in.row[F_GRAD][k]), bits_of(in.row[F_EXP_AVG][k]),
               bits_of(in.row[F_EXP_AVG_SQ][k]), bits_of(in.row[F_MAX][k]));
      } else {
        printf("    index %ld %s (outside [0, %zu) or a read-only row): was 0x%08" PRIx32 ", scalar left 0x%08" PRIx32
               ", %s left 0x%08" PRIx32 "\n",
               idx, kFieldName[f], n, o, e, kernel, g);
      }
    }
  }
  if (!ok && tally.printed < kPrintLimit) ++tally.printed;
  return ok;
}

/* Runs the whole matrix for one kernel; quiet suppresses mismatch details (self-test). */
Tally check_kernel(const char *name, adam_step_f32_fn fn, bool quiet) {
  Tally tally;
  if (quiet) tally.printed = kPrintLimit;
  const std::vector<uint32_t> combos = flag_combinations();
  State *in = new State, *ref = new State, *got = new State;
  for (size_t k = 0; k < kSettingCount; ++k) {
    const char *sname;
    adam_scalars_f32 s = setting(k, &sname);
    for (size_t c = 0; c < combos.size(); ++c) {
      s.flags = combos[c];
      const bool amsgrad = (s.flags & ADAM_AMSGRAD) != 0;
      for (size_t off = 0; off <= kMaxOffset; ++off) {
        for (size_t n = 0; n <= kMaxN; ++n) {
          for (int mode = 0; mode < kModes; ++mode) {
            Rng r(((((uint64_t)k * 64 + c) * 8 + off) * 64 + n) * 4 + (uint64_t)mode);
            for (int f = 0; f < F_COUNT; ++f)
              for (size_t j = 0; j < kRow; ++j) in->row[f][j] = from_bits(kGuardBits);
            for (size_t j = 0; j < n; ++j)
              for (int f = 0; f < F_COUNT; ++f) in->row[f][kGuard + off + j] = draw(r, mode, (Field)f);
            memcpy(ref, in, sizeof *in);
            memcpy(got, in, sizeof *in);
            const adam_tensor_f32 tr = view(*ref, off, amsgrad), tg = view(*got, off, amsgrad);
            adam_step_f32_scalar(&tr, n, &s);
            fn(&tg, n, &s);
            ++tally.cases;
            tally.elements += n;
            if (!compare_case(name, *in, *ref, *got, off, n, amsgrad, tally, sname, s.flags, mode))
              ++tally.failed_cases;
          }
        }
      }
    }
  }
  delete in;
  delete ref;
  delete got;
  return tally;
}

/* Deliberately broken kernels: the harness must catch each, or a PASS would mean nothing. */
extern "C" void broken_overrun(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_f32_scalar(t, n, s);
  t->exp_avg_sq[n] = 0.0f; /* one past the end: lands in the harness's guard */
}
extern "C" void broken_last_bit(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_f32_scalar(t, n, s);
  if (n > 0 && !isnan(t->param[n - 1])) t->param[n - 1] = from_bits(bits_of(t->param[n - 1]) ^ 1u);
}
extern "C" void broken_zero_sign(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_f32_scalar(t, n, s);
  for (size_t i = 0; i < n; ++i)
    if (t->exp_avg[i] == 0.0f) t->exp_avg[i] = -t->exp_avg[i];
}
extern "C" void broken_nan_dropping_max(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  /* What fmaxf / vmaxnmq_f32 would do: a NaN in max_exp_avg_sq is replaced by v. */
  if (s->flags & ADAM_AMSGRAD)
    for (size_t i = 0; i < n; ++i)
      if (isnan(t->max_exp_avg_sq[i])) t->max_exp_avg_sq[i] = 0.0f;
  adam_step_f32_scalar(t, n, s);
}

bool self_test() {
  struct {
    const char *name;
    adam_step_f32_fn fn;
  } broken[] = {{"overrun", broken_overrun},
                {"last-bit", broken_last_bit},
                {"zero-sign", broken_zero_sign},
                {"nan-dropping-max", broken_nan_dropping_max}};
  bool ok = true;
  for (size_t b = 0; b < sizeof broken / sizeof broken[0]; ++b) {
    const Tally t = check_kernel(broken[b].name, broken[b].fn, true);
    if (t.failed_cases == 0) {
      printf("harness self-test: broken kernel '%s' was NOT detected\n", broken[b].name);
      ok = false;
    }
  }
  /* And the scalar kernel against itself must pass, or the comparison is too strict. */
  const Tally t = check_kernel("scalar", adam_step_f32_scalar, true);
  if (t.failed_cases != 0) {
    printf("harness self-test: scalar vs scalar reported %" PRIu64 " mismatching cases\n", t.failed_cases);
    ok = false;
  }
  printf("harness self-test: %s (4 broken kernels caught, scalar vs itself clean)\n", ok ? "ok" : "FAILED");
  return ok;
}

std::vector<Backend<adam_step_f32_fn>> kernels() {
  [[maybe_unused]] const Cpu cpu = this_cpu();
  return {
#if defined(__x86_64__) || defined(_M_X64)
      {"avx2", adam_step_f32_avx2, cpu.avx2},
      {"avx512", adam_step_f32_avx512, cpu.avx512f},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
      {"neon", adam_step_f32_neon, true},
#endif
  };
}

}  // namespace

int main(int argc, char **argv) {
  const bool self_test_only = argc > 1 && strcmp(argv[1], "--self-test-only") == 0;
  setvbuf(stdout, nullptr, _IOLBF, 0);
#if defined(__aarch64__)
  const char *arch = "aarch64";
#elif defined(__x86_64__)
  const char *arch = "x86-64";
#else
  const char *arch = "unknown";
#endif
  printf("kernel_check (%s): %zu settings x %zu flag sets x offsets 0..%zu x n 0..%zu x %d input modes\n", arch,
         kSettingCount, flag_combinations().size(), kMaxOffset, kMaxN, kModes);
  bool ok = self_test();
  if (self_test_only) return ok ? 0 : 1;
  const std::vector<Backend<adam_step_f32_fn>> ks = kernels();
  size_t ran = 0;
  for (size_t i = 0; i < ks.size(); ++i) {
    if (!ks[i].runs) {
      printf("%s: SKIP (this CPU cannot run it)\n", ks[i].name);
      continue;
    }
    const Tally t = check_kernel(ks[i].name, ks[i].kernels, false);
    ++ran;
    if (t.failed_cases == 0) {
      printf("%s: PASS, bit-identical to scalar (%" PRIu64 " cases, %" PRIu64 " elements)\n", ks[i].name, t.cases,
             t.elements);
    } else {
      printf("%s: FAIL, %" PRIu64 " of %" PRIu64 " cases differ from scalar\n", ks[i].name, t.failed_cases, t.cases);
      ok = false;
    }
  }
  if (ran == 0) printf("no vector kernel could run on this CPU; only the harness was checked\n");
  return ok ? 0 : 1;
}
