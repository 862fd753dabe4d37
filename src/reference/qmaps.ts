/**
 * bitsandbytes' dynamic quantization maps as torchao computes them (`create_dynamic_map(signed)`,
 * with `torch.linspace` in float32): 256 ascending float32 values each. The values are data
 * recorded from PyTorch, not recomputed: their last bit depends on how torch.linspace rounded on
 * the recording machine. They are kept once, for this reference and the kernels alike, in
 * native/kernels/qmap_signed.inc and native/kernels/qmap_unsigned.inc: one C hex-float literal a
 * line (`-0x1.fc66660000000p-1f,`), which the kernels' qmaps.h includes as an initializer list.
 * The signed map serves exp_avg (it has no -1: its lowest entry is -0.99297), the unsigned one
 * exp_avg_sq and max_exp_avg_sq.
 */
import { readFileSync } from 'node:fs';

// src/reference/ and dist/reference/ both sit two levels below the package root.
const MAPS_DIR = new URL('../../native/kernels/', import.meta.url);
const HEX_FLOAT = /^(-?)0x([01])\.([0-9a-f]+)p([-+]?\d+)f,$/;

/** Reads one map file: 256 hex-float literals, each exact in float32, ascending. */
function readMap(file: string): Float32Array {
  const lines = readFileSync(new URL(file, MAPS_DIR), 'utf8').split('\n').filter((line) => line.length > 0);
  const values = lines.map((line) => {
    const parts = HEX_FLOAT.exec(line);
    if (parts === null) throw new Error(`${file}: not a hex-float literal: ${JSON.stringify(line)}`);
    const [, sign, lead, fraction, exponent] = parts as unknown as [string, string, string, string, string];
    // Exact in a double: a float32 mantissa fits, and powers of two scale exactly.
    const magnitude = (Number(lead) + parseInt(fraction, 16) / 16 ** fraction.length) * 2 ** Number(exponent);
    return sign === '-' ? -magnitude : magnitude;
  });
  const map = Float32Array.from(values);
  if (map.length !== 256 || map.some((x, i) => x !== values[i] || (i > 0 && !(map[i - 1]! < x)))) {
    throw new Error(`${file}: expected 256 ascending values exact in float32`);
  }
  return map;
}

/** The signed map (exp_avg): 256 ascending float32 values, qmapSigned[127] = 0. */
export const QMAP_SIGNED: Float32Array = readMap('qmap_signed.inc');
/** The unsigned map (exp_avg_sq, max_exp_avg_sq): 256 ascending float32 values from 0 to 1. */
export const QMAP_UNSIGNED: Float32Array = readMap('qmap_unsigned.inc');
