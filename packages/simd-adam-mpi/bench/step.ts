/**
 * Sharded step time at this world size, by phase, for the note in docs/distributed.md:
 *
 *   mpirun -np N node --import tsx packages/simd-adam-mpi/bench/step.ts
 *
 * PARAMS (default 16M) float32 parameters in one store, AdamW with STATE_DTYPE state (float32 by
 * default; bfloat16, 8bit), STEPS (default 7) timed steps after
 * a warm-up, each started together (barrier). Per rank: the median step, the median time inside
 * the reduce-scatter and the all-gather (wall time of the promise, so it includes waiting for the
 * slowest rank), and bytes handed to MPI. With N=1 it also times a plain single-process AdamW
 * stepAsync() on the same model, interleaved with the sharded steps.
 */
import { AdamW, ParameterStore } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../src/index.js';

const PARAMS = Number(process.env.PARAMS ?? 16 * 1024 * 1024);
const STEPS = Number(process.env.STEPS ?? 7);
const stateDtype = (process.env.STATE_DTYPE ?? 'float32') as 'float32' | 'bfloat16' | '8bit';
const comm = await mpiWorld();
const makeStore = () => {
  const store = new ParameterStore([0, 1, 2, 3].map((k) => ({ name: `layer${k}`, shape: [PARAMS / 4] })));
  store.attachGrads({ zero: false });
  for (let i = 0; i < store.grads.length; i++) store.grads[i] = ((i % 9) - 4) / 64;
  return store;
};
const store = makeStore();
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 1e-3, stateDtype });
const baselineStore = comm.size === 1 ? makeStore() : undefined;
const baseline = baselineStore && new AdamW(baselineStore.params, { lr: 1e-3, stateDtype });

// Phase timings: wrap the two bulk collectives.
const phase = { reduceScatter: 0, allGather: 0 };
for (const name of ['reduceScatter', 'allGather'] as const) {
  const original = comm[name].bind(comm) as (...args: never[]) => Promise<void>;
  (comm as unknown as Record<string, unknown>)[name] = async (...args: never[]) => {
    const began = performance.now();
    await original(...args);
    phase[name] += performance.now() - began;
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = { step: [] as number[], reduceScatter: [] as number[], allGather: [] as number[], baseline: [] as number[] };
await zero.stepAsync();
await baseline?.stepAsync();
for (let i = 0; i < STEPS; i++) {
  await comm.barrier();
  phase.reduceScatter = phase.allGather = 0;
  comm.resetTraffic();
  const began = performance.now();
  await zero.stepAsync();
  rows.step.push(performance.now() - began);
  rows.reduceScatter.push(phase.reduceScatter);
  rows.allGather.push(phase.allGather);
  if (baseline) {
    const b = performance.now();
    await baseline.stepAsync();
    rows.baseline.push(performance.now() - b);
  }
}
const ms = (x: number) => Number(x.toFixed(1));
console.log(
  JSON.stringify({
    rank: comm.rank,
    size: comm.size,
    params: PARAMS,
    stateDtype,
    stepMs: ms(median(rows.step)),
    reduceScatterMs: ms(median(rows.reduceScatter)),
    allGatherMs: ms(median(rows.allGather)),
    restMs: ms(median(rows.step.map((s, i) => s - rows.reduceScatter[i]! - rows.allGather[i]!))),
    ...(baseline ? { singleProcessAdamWMs: ms(median(rows.baseline)) } : {}),
    bytesSentPerStep: comm.traffic.bulkBytes + comm.traffic.smallBytes,
    stateBytes: zero.localStateBytes(),
  }),
);
