/** How far a set of tensors moved from a snapshot: the frozen-parameter trap, in numbers. */

export interface Drift {
  /** Largest absolute change of any element. */
  maxAbs: number;
  /** ‖after − before‖₂ / ‖before‖₂ over all the tensors together. */
  relativeL2: number;
  /** Every element has the same bits as before. */
  bitIdentical: boolean;
}

export function drift(before: readonly Float32Array[], after: readonly Float32Array[]): Drift {
  let maxAbs = 0;
  let diff2 = 0;
  let base2 = 0;
  let bitIdentical = true;
  before.forEach((b, t) => {
    const a = after[t]!;
    const aBits = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const bBits = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < b.length; i++) {
      const d = a[i]! - b[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(d));
      diff2 += d * d;
      base2 += b[i]! * b[i]!;
      if (aBits[i] !== bBits[i]) bitIdentical = false;
    }
  });
  return { maxAbs, relativeL2: base2 > 0 ? Math.sqrt(diff2 / base2) : Math.sqrt(diff2), bitIdentical };
}
