/* The 8-bit step with free (de)quantizing, for bench:lowbit: adam_body.h's float32 update (the
 * same multiplies, divides and square root, one rounding each) over the traffic of 8-bit state,
 * each moment read from its code byte as a float by one integer add and written back as the top
 * byte of its new value: no map, no block maximum, no nearest code. An 8-bit kernel that
 * computes torchao's codes does all of this and more, so this bounds it from below: it is what
 * memory and the divide/square-root unit leave for the quantizer. Built with the AVX-512 kernels'
 * flags (native/build.json, "probe_avx512"); x86-64 only. */
#include "kernels/adam_body.h"
#include "kernels/ops_avx512.h"
#include "probe_kernels.h"

namespace {

/* The probe kernels prefetch as far ahead as the kernels (probe_kernels.cc). */
constexpr size_t AHEAD = 1024;

/* Whole vectors of [0, n) (every element with scalar_ops); returns where it stopped. */
template <class O>
size_t update_q8(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  typedef typename O::V V;
  const adam_consts<O> k(s);
  float *param = t->param;
  const float *grad = t->grad;
  uint8_t *m8 = reinterpret_cast<uint8_t *>(t->exp_avg), *v8 = reinterpret_cast<uint8_t *>(t->exp_avg_sq);
  /* A code c reads as the float with bits 0x3c000000 + c, about 2^-7: never subnormal, which
   * would slow the arithmetic down, and the same magnitude step after step. */
  const typename O::VI bias = O::set1_i(0x3c000000u);
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    if (O::lanes > 1) {
      __builtin_prefetch(param + i + AHEAD, 1, 3);
      __builtin_prefetch(grad + i + AHEAD, 0, 3);
      if (i % 64 == 0) {
        __builtin_prefetch(m8 + i + AHEAD, 1, 3);
        __builtin_prefetch(v8 + i + AHEAD, 1, 3);
      }
    }
    V m = O::from_bits(O::add_i(O::load_u8(m8 + i), bias)), v = O::from_bits(O::add_i(O::load_u8(v8 + i), bias));
    V vmax = v;
    O::store(param + i, adam_update<O>(k, O::load(param + i), O::load(grad + i), m, v, vmax));
    O::store_u8(m8 + i, O::template srli<24>(O::bits(m)));
    O::store_u8(v8 + i, O::template srli<24>(O::bits(v)));
  }
  return i;
}

}  // namespace

extern "C" void probe_update_q8_avx512(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = update_q8<avx512_ops>(t, n, s);
  const adam_tensor_f32 rest = {t->param + done, t->grad + done,
                                reinterpret_cast<float *>(reinterpret_cast<uint8_t *>(t->exp_avg) + done),
                                reinterpret_cast<float *>(reinterpret_cast<uint8_t *>(t->exp_avg_sq) + done), nullptr};
  update_q8<scalar_ops>(&rest, n - done, s);
  probe_traffic_q8_scales(t, n);
}
