/**
 * Run by mpirun: 16M-parameter sharded AdamW steps after a first one that allocates the state.
 * For each: the CPU time the main thread (the event loop) spent during the step, from Linux's
 * per-thread schedstat, which is what the step takes from the loop whatever else the machine runs;
 * then, with a 1 ms interval timer, the longest gap between its callbacks during a step and during
 * an idle wait of the same length (what scheduling alone costs when several processes share the
 * cores). Also the step's wall time and the bytes this rank handed MPI.
 */
import { readFileSync } from 'node:fs';
import { ParameterStore } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';

const PARAMS = Number(process.env.PARAMS ?? 16 * 1024 * 1024);
const comm = await mpiWorld();
const store = new ParameterStore([0, 1, 2, 3].map((k) => ({ name: `layer${k}`, shape: [PARAMS / 4] })));
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 1e-3 });
store.attachGrads({ zero: false });
for (let i = 0; i < store.grads.length; i++) store.grads[i] = ((i % 9) - 4) / 64;

/** The longest gap between 1 ms timer callbacks while `work` runs, and its wall time. */
async function gaps(work: () => Promise<unknown>): Promise<{ ms: number; maxGapMs: number }> {
  let last = performance.now(), maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  const started = (last = performance.now());
  await work();
  const ended = performance.now();
  clearInterval(timer);
  return { ms: ended - started, maxGapMs: Math.max(maxGap, ended - last) };
}

/** The main thread's [on-CPU, waiting-for-a-CPU] nanoseconds so far. */
function mainThreadNs(): [number, number] {
  const [cpu, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
  return [cpu!, wait!];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
await comm.barrier();
const first = await gaps(() => zero.stepAsync());
const steps: { ms: number; maxGapMs: number }[] = [];
const idles: { ms: number; maxGapMs: number }[] = [];
const loopCpuMs: number[] = [], loopWaitMs: number[] = [];
let traffic = { ...comm.traffic };
for (let i = 0; i < Number(process.env.STEPS ?? 3); i++) {
  await comm.barrier();
  const before = mainThreadNs();
  comm.resetTraffic();
  await zero.stepAsync();
  const after = mainThreadNs();
  loopCpuMs.push((after[0] - before[0]) / 1e6);
  loopWaitMs.push((after[1] - before[1]) / 1e6);
  traffic = { ...comm.traffic };
  await comm.barrier();
  steps.push(await gaps(() => zero.stepAsync()));
  idles.push(await gaps(() => new Promise((resolve) => setTimeout(resolve, steps[i]!.ms))));
}
console.log(
  JSON.stringify({
    rank: comm.rank,
    size: comm.size,
    params: PARAMS,
    firstStepMs: first.ms,
    firstMaxGapMs: first.maxGapMs,
    medianStepMs: median(steps.map((s) => s.ms)),
    medianLoopCpuMs: median(loopCpuMs),
    maxLoopCpuMs: Math.max(...loopCpuMs),
    medianLoopWaitMs: median(loopWaitMs),
    medianMaxGapMs: median(steps.map((s) => s.maxGapMs)),
    medianIdleMaxGapMs: median(idles.map((s) => s.maxGapMs)),
    bulkBytesPerStep: traffic.bulkBytes,
    smallBytesPerStep: traffic.smallBytes,
    stateBytes: zero.localStateBytes(),
  }),
);
