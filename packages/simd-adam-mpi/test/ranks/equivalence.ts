/**
 * Run by mpirun: 20 sharded AdamW steps against a single-process AdamW on the mean gradient
 * (computed here on every rank), with an lr schedule, null grads, a frozen parameter, and every
 * fourth step grads assigned as arrays of their own rather than the store's views. CLIP=<max>
 * clips both by the global norm (then only close, not bit-identical: the norms are summed in
 * different orders). Prints one JSON line per rank.
 */
import { AdamW, clipGradNorm, StepLR } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';
import { makeStore, sameBits, setGrads } from './model.js';

const comm = await mpiWorld();
const stateDtype = (process.env.STATE_DTYPE ?? 'float32') as 'float32' | 'bfloat16' | '8bit';
// min8bitSize 300: 'w' (1110 elements) and 'big' (2000) get 8-bit state, cut across ranks at
// block boundaries; the smaller ones stay float32, pieces of large ones never do.
const options = { lr: 0.01, weightDecay: 0.1, betas: [0.9, 0.99] as [number, number], amsgrad: process.env.AMSGRAD === '1', stateDtype, min8bitSize: 300 };
const store = makeStore();
const clip = process.env.CLIP ? Number(process.env.CLIP) : undefined;
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, ...options, ...(clip ? { maxGradNorm: clip } : {}) });
const schedule = new StepLR(zero, { stepSize: 5, gamma: 0.5 });
const ref = makeStore();
const single = new AdamW(ref.params, options);
const refSchedule = new StepLR(single, { stepSize: 5, gamma: 0.5 });
const bytes: number[] = [];
const hookCalls = { pre: 0, post: 0 };
zero.registerStepPreHook((opt) => void (opt === zero && hookCalls.pre++));
const post = zero.registerStepPostHook(() => void hookCalls.post++);
for (let step = 0; step < 20; step++) {
  setGrads(store, comm.rank, step);
  if (step % 4 === 3) for (const p of store.params) if (p.grad) p.grad = p.grad.slice();
  setGrads(ref, comm.rank, step, comm.size);
  comm.resetTraffic();
  await zero.stepAsync();
  bytes.push(comm.traffic.bulkBytes);
  if (clip) clipGradNorm(ref.params, clip);
  single.step();
  schedule.step();
  refSchedule.step();
}
post.remove();
let refStateBytes = 0;
for (const s of single.state.values()) {
  for (const m of [s.expAvg, s.expAvgSq, s.maxExpAvgSq]) if (m) refStateBytes += ArrayBuffer.isView(m) ? m.byteLength : m.codes.byteLength + m.scale.byteLength;
}
console.log(
  JSON.stringify({
    rank: comm.rank,
    size: comm.size,
    identical: sameBits(store.data, ref.data),
    maxRelDiff: store.data.reduce((m, x, i) => Math.max(m, Math.abs(x - ref.data[i]!) / Math.max(1e-3, Math.abs(ref.data[i]!))), 0),
    gradNorm: zero.lastGradNorm,
    frozenUntouched: sameBits(store.get('frozen')!.data, makeStore().get('frozen')!.data),
    bytesPerStep: bytes[bytes.length - 1],
    flatElements: store.data.length,
    stateBytes: zero.localStateBytes(),
    refStateBytes,
    lr: zero.paramGroups[0]!.lr,
    hookCalls,
    explained: zero.explain().map((e) => `${e.name}:${e.reason}`),
  }),
);
