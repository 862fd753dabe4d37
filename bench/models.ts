/** The models the benchmark steps: one tensor, many tensors in separate buffers, and the same
 * many tensors allocated in one buffer by a ParameterStore. Values stay in a realistic range
 * over thousands of steps (no denormals, no NaN). */
import { Adam, Parameter, ParameterStore } from '../src/index.js';
import { encodePlan } from '../src/engine/segment_table.js';
import { adamScalars } from '../src/reference/adam.js';

export interface Model {
  params: Parameter[];
  elements: number;
  opt: Adam;
}

/** Small values from a seeded LCG, in a realistic range for weights and grads. */
export function fill(a: Float32Array, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 0.02;
  }
  return a;
}

function withOptimizer(params: Parameter[]): Model {
  const opt = new Adam(params, { lr: 1e-3 });
  opt.step(); // state allocated and the plan cached: what every later step of a training loop sees
  return { params, elements: params.reduce((n, p) => n + p.numel, 0), opt };
}

/** `count` tensors of `size` floats, each with its own data and grad buffers. */
export function separate(count: number, size: number): Model {
  const params = Array.from({ length: count }, (_, i) => {
    const p = new Parameter(fill(new Float32Array(size), 2 * i + 1));
    p.grad = fill(new Float32Array(size), 2 * i + 2);
    return p;
  });
  return withOptimizer(params);
}

/** The same tensors, allocated in one buffer (grads in another). */
export function stored(count: number, size: number): Model {
  const store = new ParameterStore(Array.from({ length: count }, () => ({ shape: [size] })));
  fill(store.data, 1);
  fill(store.grads, 2);
  store.attachGrads({ zero: false });
  return withOptimizer([...store.params]);
}

/** The model's step as a plan table, one segment per parameter, over its real buffers: for
 * probes that measure what its memory layout allows. */
export function layoutPlan(model: Model): ReturnType<typeof encodePlan> {
  const scalars = adamScalars({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupledWeightDecay: false }, 1);
  return encodePlan(
    model.params.map((p) => {
      const state = model.opt.state.get(p)!;
      return { param: p.data, grad: p.grad!, expAvg: state.expAvg, expAvgSq: state.expAvgSq, maxExpAvgSq: null, scalars };
    }),
  );
}
