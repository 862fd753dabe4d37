/** The memory roofline, timed natively over the same thread pool as a step: a kernel with an
 * Adam step's 28 bytes/element of traffic and no math, and STREAM triad. Also the bare kernel:
 * the selected Adam kernel on one thread, with no Node-API call around it. */
import { probes, type ProbeKind } from './probe_addon.js';

export interface ProbeArrays {
  param: Float32Array;
  grad: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

export function probeArrays(n: number): ProbeArrays {
  const make = (x: number) => new Float32Array(n).fill(x);
  return { param: make(0.5), grad: make(0.01), expAvg: make(0), expAvgSq: make(0) };
}

export function median(values: ArrayLike<number>): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median ns of one pass of `kind` over the arrays; `parallel` uses the current thread count. */
export function probe(kind: ProbeKind, a: ProbeArrays, reps: number, parallel: boolean): number {
  probes().probe(kind, a.param, a.grad, a.expAvg, a.expAvgSq, 2, parallel); // warm caches and threads
  return median(probes().probe(kind, a.param, a.grad, a.expAvg, a.expAvgSq, reps, parallel));
}

/** Repetitions giving about `budgetMs` of timing for `n` elements at ~1 ns/element. */
export function repsFor(n: number, budgetMs = 300): number {
  return Math.max(7, Math.min(2001, Math.round((budgetMs * 1e6) / Math.max(n, 1))));
}
