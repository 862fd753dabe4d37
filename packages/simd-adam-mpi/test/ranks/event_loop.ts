/**
 * Run by mpirun: a 16M-parameter sharded AdamW step, with a 1 ms interval timer counting the
 * longest gap the event loop left it during the step (after a first step that allocates the
 * state), the step's wall time, and the bytes this rank handed MPI.
 */
import { ParameterStore } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';

const PARAMS = Number(process.env.PARAMS ?? 16 * 1024 * 1024);
const comm = await mpiWorld();
const store = new ParameterStore([0, 1, 2, 3].map((k) => ({ name: `layer${k}`, shape: [PARAMS / 4] })));
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 1e-3 });
store.attachGrads({ zero: false });
for (let i = 0; i < store.grads.length; i++) store.grads[i] = ((i % 9) - 4) / 64;

async function timedStep(): Promise<{ ms: number; maxGapMs: number }> {
  let last = performance.now(), maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await comm.barrier();
  const started = performance.now();
  last = started;
  comm.resetTraffic();
  await zero.stepAsync();
  const ms = performance.now() - started;
  maxGap = Math.max(maxGap, performance.now() - last);
  clearInterval(timer);
  return { ms, maxGapMs: maxGap };
}

const first = await timedStep();
const steps = [];
for (let i = 0; i < Number(process.env.STEPS ?? 3); i++) steps.push(await timedStep());
const ms = steps.map((s) => s.ms).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    rank: comm.rank,
    size: comm.size,
    params: PARAMS,
    firstStepMs: first.ms,
    firstMaxGapMs: first.maxGapMs,
    medianStepMs: ms[ms.length >> 1],
    maxGapMs: Math.max(...steps.map((s) => s.maxGapMs)),
    bulkBytesPerStep: comm.traffic.bulkBytes,
    smallBytesPerStep: comm.traffic.smallBytes,
    stateBytes: zero.localStateBytes(),
  }),
);
