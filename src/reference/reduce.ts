/**
 * The reductions in plain TypeScript: the 'js' backend's, and the oracle the native ones are
 * tested against. Sums are in double, as the native kernels accumulate; the order differs, so
 * sums agree to rounding. Everything else is exact and agrees bit for bit.
 */

/** True if every element is +0 or −0 (vacuously for an empty view). */
export function allZeroReference(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) return false;
  return true;
}

/** The index of the first NaN or ±Inf, or −1. */
export function firstNonFiniteReference(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

export function sumSqReference(x: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
  return sum;
}

export function sumAbsReference(x: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs(x[i]!);
  return sum;
}

export function sumPowAbsReference(x: Float32Array, p: number): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.pow(Math.abs(x[i]!), p);
  return sum;
}

/** max |x|; NaN if any element is NaN (as torch.max), 0 for an empty view. */
export function maxAbsReference(x: Float32Array): number {
  let best = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a !== a) return NaN;
    if (a > best) best = a;
  }
  return best;
}

/** x *= factor, with the factor rounded to float32 once, as the native kernels do. Storing into
 * the Float32Array rounds the double product exactly as a float multiply would. */
export function scaleReference(x: Float32Array, factor: number): void {
  const f = Math.fround(factor);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * f;
}
