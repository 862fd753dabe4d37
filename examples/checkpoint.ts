/**
 * An in-memory checkpoint of a model and its optimizer, so that each way of freezing starts from
 * the same phase-1 state. It uses the optimizer's state views, which are documented as writable:
 * restoring writes the saved moments and step counts back into the optimizer's own storage.
 */
import type { Adam, Parameter } from '../src/index.js';

interface Saved {
  data: Float32Array;
  grad: Float32Array | null;
  requiresGrad: boolean;
  state: { step: number; expAvg: Float32Array; expAvgSq: Float32Array } | undefined;
}

/** Captures parameters, grads and optimizer state now; returns a function that restores them. */
export function checkpoint(params: readonly Parameter[], opt: Adam): () => void {
  const saved = new Map<Parameter, Saved>();
  for (const p of params) {
    const state = opt.state.get(p);
    saved.set(p, {
      data: p.data.slice(),
      grad: p.grad?.slice() ?? null,
      requiresGrad: p.requiresGrad,
      // This example's optimizer keeps float32 state (the default stateDtype).
      state: state?.dtype === 'float32' ? { step: state.step, expAvg: state.expAvg.slice(), expAvgSq: state.expAvgSq.slice() } : undefined,
    });
  }
  return () => {
    for (const [p, s] of saved) {
      p.data.set(s.data);
      p.grad = s.grad?.slice() ?? null;
      p.requiresGrad = s.requiresGrad;
      const stored = opt.state.get(p);
      const state = stored?.dtype === 'float32' ? stored : undefined;
      if (!state || !s.state) {
        if (state || s.state) throw new Error(`checkpoint: ${p.label} gained or lost optimizer state`);
        continue;
      }
      state.step = s.state.step;
      state.expAvg.set(s.state.expAvg);
      state.expAvgSq.set(s.state.expAvgSq);
    }
  };
}
