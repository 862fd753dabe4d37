/**
 * Run by mpirun: does the event loop keep serving timers during a 16M-parameter sharded step?
 * A 1 ms setInterval runs while `await opt.stepAsync()` does; every gap between two of its
 * callbacks (and from the step's start to the first, and from the last to the step's end) is
 * recorded. STEPS steps after a first one that allocates the state, each started together
 * (barrier), then an idle wait as long as a step with the same timer: what scheduling alone costs
 * when several processes share the cores. Also the step's wall time and the bytes this rank
 * handed MPI per step. OWN_GRADS=1 gives every parameter a grad array of its own.
 */
import { ParameterStore } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';

const PARAMS = Number(process.env.PARAMS ?? 16 * 1024 * 1024);
const comm = await mpiWorld();
const store = new ParameterStore([0, 1, 2, 3].map((k) => ({ name: `layer${k}`, shape: [PARAMS / 4] })));
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 1e-3, stateDtype: (process.env.STATE_DTYPE ?? 'float32') as 'float32' | '8bit' });
store.attachGrads({ zero: false });
for (let i = 0; i < store.grads.length; i++) store.grads[i] = ((i % 9) - 4) / 64;
// OWN_GRADS=1: every grad an array of its own, as a framework's backward pass may hand them out,
// which a step gathers into one flat buffer before reducing.
if (process.env.OWN_GRADS === '1') for (const p of store.params) p.grad = p.grad!.slice();

/** The gaps between 1 ms timer callbacks while `work` runs, and its wall time. */
async function gaps(work: () => Promise<unknown>): Promise<{ ms: number; gaps: number[] }> {
  const seen: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    seen.push(now - last);
    last = now;
  }, 1);
  const started = (last = performance.now());
  await work();
  const ended = performance.now();
  clearInterval(timer);
  seen.push(ended - last);
  return { ms: ended - started, gaps: seen };
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const quantile = (xs: number[], q: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const median = (xs: number[]) => quantile(xs, 0.5);
const round = (x: number) => Number(x.toFixed(2));

await comm.barrier();
const first = await gaps(() => zero.stepAsync());
const steps: { ms: number; gaps: number[] }[] = [];
const idles: { ms: number; gaps: number[] }[] = [];
let traffic = { ...comm.traffic };
for (let i = 0; i < Number(process.env.STEPS ?? 5); i++) {
  await comm.barrier();
  comm.resetTraffic();
  steps.push(await gaps(() => zero.stepAsync()));
  traffic = { ...comm.traffic };
  idles.push(await gaps(() => new Promise((resolve) => setTimeout(resolve, steps[i]!.ms))));
}
console.log(
  JSON.stringify({
    rank: comm.rank,
    size: comm.size,
    params: PARAMS,
    firstStepMs: round(first.ms),
    firstMaxGapMs: round(Math.max(...first.gaps)),
    medianStepMs: round(median(steps.map((s) => s.ms))),
    // Per step, then the median over steps (a garbage collection or a time slice lost to another
    // process can land in any one step).
    medianGapMs: round(median(steps.map((s) => median(s.gaps)))),
    p95GapMs: round(median(steps.map((s) => quantile(s.gaps, 0.95)))),
    maxGapMs: round(Math.max(...steps.map((s) => Math.max(...s.gaps)))),
    callbacksPerStep: median(steps.map((s) => s.gaps.length)),
    idleP95GapMs: round(median(idles.map((s) => quantile(s.gaps, 0.95)))),
    idleMaxGapMs: round(Math.max(...idles.map((s) => Math.max(...s.gaps)))),
    bulkBytesPerStep: traffic.bulkBytes,
    smallBytesPerStep: traffic.smallBytes,
    stateBytes: zero.localStateBytes(),
  }),
);
