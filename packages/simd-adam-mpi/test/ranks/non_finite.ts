/**
 * Run by mpirun: nonFinite 'skip' or 'throw' (MODE) across ranks, against one AdamW with the same
 * option stepping on the mean gradient. At step 3 one rank's grad goes bad (CASE 'nan': NaN in
 * 'big' on the last rank only; 'inf': -Infinity in 'w' on rank 0 only; 'overflow': every rank's
 * 'big'[7] is 3e38, finite, but their float32 sum is not). Prints per rank what each step did,
 * whether the bad step changed anything, and whether the run ends bit-identical to the reference.
 */
import { AdamW, type NonFiniteMode } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';
import { gradOf, hasGrad, makeStore, sameBits, stateOptions } from './model.js';

const comm = await mpiWorld();
const mode = process.env.MODE as NonFiniteMode;
const which = process.env.CASE!;
const BAD_STEP = 3;
const options = { lr: 0.01, weightDecay: 0.1, nonFinite: mode, ...stateOptions() };
const store = makeStore();
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, ...options });
const ref = makeStore();
const single = new AdamW(ref.params, options);

/** Rank `rank`'s grad of parameter k at `step`, spoiled at BAD_STEP as CASE says. */
function grad(k: number, numel: number, rank: number, step: number): Float32Array {
  const g = gradOf(k, numel, rank, step);
  if (step !== BAD_STEP) return g;
  const name = store.params[k]!.name;
  if (which === 'nan' && name === 'big' && rank === comm.size - 1) g[5] = NaN;
  if (which === 'inf' && name === 'w' && rank === 0) g[1000] = -Infinity;
  if (which === 'overflow' && name === 'big') g[7] = 3e38;
  return g;
}

const outcomes: string[] = [];
const messages: string[] = [];
let badStepUnchanged = false;
const started = Date.now();
for (let step = 0; step < 8; step++) {
  store.attachGrads({ zero: false });
  ref.attachGrads({ zero: false });
  store.params.forEach((p, k) => {
    if (!p.requiresGrad) return;
    if (!hasGrad(k, step)) return void (p.grad = ref.params[k]!.grad = null);
    p.grad!.set(grad(k, p.numel, comm.rank, step));
    // The mean as the sharded step computes it: float32 sum over ranks, one division.
    const mean = ref.params[k]!.grad!;
    mean.fill(0);
    for (let r = 0; r < comm.size; r++) {
      const g = grad(k, p.numel, r, step);
      for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! + g[i]!;
    }
    for (let i = 0; i < mean.length; i++) mean[i] = mean[i]! / comm.size;
  });
  const before = store.data.slice();
  try {
    await zero.stepAsync();
    outcomes.push(zero.skippedSteps > outcomes.filter((o) => o === 'skipped').length ? 'skipped' : 'stepped');
  } catch (error) {
    outcomes.push((error as { code: string }).code);
    messages.push((error as Error).message);
  }
  if (step === BAD_STEP) badStepUnchanged = sameBits(before, store.data);
  try {
    single.step();
  } catch {
    // 'throw': the reference refuses the same step.
  }
}
console.log(
  JSON.stringify({
    rank: comm.rank,
    outcomes,
    messages,
    badStepUnchanged,
    skipped: zero.skippedSteps,
    refSkipped: single.skippedSteps,
    identical: sameBits(store.data, ref.data),
    seconds: (Date.now() - started) / 1000,
  }),
);
