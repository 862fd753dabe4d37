/** Deep copies of everything an optimizer step could touch, to prove that nothing changed. */
import { expect } from 'vitest';

import type { Adam, Parameter } from '../../src/index.js';
import { firstBitDifference } from './compare.js';
import { f32State } from './float32_state.js';

export interface Snapshot {
  data: Float32Array[];
  grads: Array<unknown>;
  gradCopies: Array<Float32Array | null>;
  state: Array<{ step: number; arrays: Float32Array[] } | undefined>;
  groups: string;
  groupCount: number;
}

/** A copy; a detached view (length 0, and slice() throws) copies as empty. */
function copy(a: Float32Array): Float32Array {
  return a.length === 0 ? new Float32Array(0) : a.slice();
}

export function snapshot(opt: Adam, params: readonly Parameter[]): Snapshot {
  return {
    data: params.map((p) => copy(p.data)),
    grads: params.map((p) => p.grad),
    gradCopies: params.map((p) => (p.grad instanceof Float32Array ? copy(p.grad) : null)),
    state: params.map((p) => {
      const stored = opt.state.get(p);
      if (!stored) return undefined;
      const s = f32State(stored);
      return { step: s.step, arrays: [s.expAvg, s.expAvgSq, ...(s.maxExpAvgSq ? [s.maxExpAvgSq] : [])].map(copy) };
    }),
    groups: JSON.stringify(opt.paramGroups.map(({ params: _, ...rest }) => rest)),
    groupCount: opt.paramGroups.length,
  };
}

/** Asserts bit for bit that params, grads (identity and contents), state and groups are as in `before`. */
export function expectUnchanged(opt: Adam, params: readonly Parameter[], before: Snapshot): void {
  const after = snapshot(opt, params);
  params.forEach((p, i) => {
    expect(firstBitDifference(after.data[i]!, before.data[i]!), `param ${i} data`).toBeNull();
    expect(p.grad, `param ${i} grad identity`).toBe(before.grads[i]);
    const g = before.gradCopies[i];
    if (g) expect(firstBitDifference(after.gradCopies[i]!, g), `param ${i} grad contents`).toBeNull();
    const s = before.state[i];
    expect(after.state[i] === undefined, `param ${i} has state`).toBe(s === undefined);
    if (s) {
      expect(after.state[i]!.step, `param ${i} step`).toBe(s.step);
      s.arrays.forEach((a, k) => expect(firstBitDifference(after.state[i]!.arrays[k]!, a), `param ${i} state ${k}`).toBeNull());
    }
  });
  expect(after.groupCount).toBe(before.groupCount);
}
