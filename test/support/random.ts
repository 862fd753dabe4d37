/** A small deterministic PRNG, so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Normal-ish values with occasional specials, as a hostile gradient stream would hold. */
export function fillValues(out: Float32Array, next: () => number, specials: readonly number[] = []): Float32Array {
  for (let i = 0; i < out.length; i++) {
    const r = next();
    if (specials.length > 0 && r < 0.08) out[i] = specials[Math.floor(next() * specials.length)]!;
    else out[i] = (next() * 2 - 1) * Math.pow(10, Math.floor(next() * 5) - 2);
  }
  return out;
}

export const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 3.4e38, -3.4e38, 1e-40, -1e-40, 1e-30] as const;
