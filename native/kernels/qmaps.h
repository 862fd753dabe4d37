/* bitsandbytes' dynamic quantization maps (create_dynamic_map as torchao computes it), 256
 * ascending float32 values each. The values are data recorded from PyTorch (their last bits
 * depend on how torch.linspace rounded there), kept once in qmap_signed.inc and
 * qmap_unsigned.inc as exact C hex-float literals, one per line; the TypeScript reference
 * (src/reference/qmaps.ts) reads the same two files. constexpr: q8_code_tables.h derives the
 * quantizer's tables from them at compile time. Entry 256 is a NaN sentinel: torchao's
 * nearest-code rounding reads qmap[c + 1] for every c, and a comparison with NaN is false, so
 * c = 255 never rounds up (the rule's "c < 255"). */
#ifndef SIMD_ADAM_QMAPS_H
#define SIMD_ADAM_QMAPS_H

namespace {

alignas(64) constexpr float qmap_signed[257] = {
#include "qmap_signed.inc"
    __builtin_nanf(""),
};
alignas(64) constexpr float qmap_unsigned[257] = {
#include "qmap_unsigned.inc"
    __builtin_nanf(""),
};

}  // namespace

#endif
