/** The conformance tolerance of docs/numerics.md, as assertions. */

/** |ours − ref| ≤ 1e-6 + 1e-5·|ref| + 1e-6·max|ref| per element; NaN where ref is NaN; Inf
 * with the same sign. Returns a description of the first violation, or null. */
export function firstMismatch(ours: ArrayLike<number>, ref: ArrayLike<number>): string | null {
  if (ours.length !== ref.length) return `length ${ours.length}, expected ${ref.length}`;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = Math.abs(ref[i]!);
    if (Number.isFinite(r) && r > scale) scale = r;
  }
  for (let i = 0; i < ref.length; i++) {
    const o = ours[i]!;
    const r = ref[i]!;
    if (Number.isNaN(r) || Number.isNaN(o)) {
      if (Number.isNaN(r) !== Number.isNaN(o)) return `[${i}]: ${o}, expected ${r}`;
      continue;
    }
    if (!Number.isFinite(r) || !Number.isFinite(o)) {
      if (o !== r) return `[${i}]: ${o}, expected ${r}`;
      continue;
    }
    const tolerance = 1e-6 + 1e-5 * Math.abs(r) + 1e-6 * scale;
    if (Math.abs(o - r) > tolerance) return `[${i}]: ${o}, expected ${r} (|diff| ${Math.abs(o - r)} > ${tolerance})`;
  }
  return null;
}

/** Bit equality of two float32 arrays, any NaN equal to any NaN (payloads are not compared). */
export function firstBitDifference(a: Float32Array, b: Float32Array): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const ab = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const bb = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ab[i] === bb[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    return `[${i}]: ${a[i]} (0x${ab[i]!.toString(16)}) vs ${b[i]} (0x${bb[i]!.toString(16)})`;
  }
  return null;
}
