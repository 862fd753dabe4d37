/**
 * `npm run demo -- --state`: the same MLP trained with float32, bfloat16 and 8-bit optimizer
 * state, side by side: test accuracy, and the optimizer's memory per parameter (8-bit applies to
 * tensors of at least min8bitSize = 4096 elements; the biases and the small last layer keep
 * float32 state).
 *
 * One training run says little about a format: two runs whose optimizer states differ by
 * rounding end up as models that disagree on a few percent of the 2000 test digits, so one
 * seed's accuracy difference scatters by several tenths of a point either way (docs/lowbit.md
 * measures it against float32 runs perturbed by random noise of 8-bit rounding's size). So each
 * format trains once per seed (a seed fixes the initialisation and the batch order, the same for
 * the three formats), and the comparison is the mean over the seeds of each seed's paired
 * difference, with its standard error.
 */
import { AdamW, type AdamState, type StateDtype } from '../src/index.js';

import { Mlp } from './mlp.js';
import type { Dataset } from './mnist.js';
import { ProgressBar } from './progress.js';
import { seededRandom, shuffle } from './random.js';

export interface StateFormatsConfig {
  sizes: readonly number[];
  /** One training run per format for each seed. */
  seeds: readonly number[];
  epochs: number;
  batch: number;
}

export interface StateFormatResult {
  dtype: StateDtype;
  /** Test accuracy (0..1) per seed, in the order of `seeds`. */
  accuracies: number[];
  bytesPerParameter: number;
}

const DTYPES: readonly StateDtype[] = ['float32', 'bfloat16', '8bit'];

function stateBytes(s: AdamState): number {
  const moments = [s.expAvg, s.expAvgSq, ...(s.maxExpAvgSq ? [s.maxExpAvgSq] : [])];
  return moments.reduce((sum, m) => sum + (m instanceof Float32Array || m instanceof Uint16Array ? m.byteLength : m.codes.byteLength + m.scale.byteLength), 0);
}

/** One training run; the hooks let bench/state_accuracy.ts perturb it (the demo uses none). */
export interface TrainRun {
  dtype: StateDtype;
  /** Sets the initialisation, and (seed + 1) the batch order unless `orderSeed` is given. */
  seed: number;
  orderSeed?: number;
  /** Called once, after the model is built and before the first step. */
  prepare?: (model: Mlp) => void;
  /** Called after every step. */
  afterStep?: (model: Mlp, opt: AdamW) => void;
}

/** Trains the demo's MLP once with AdamW (lr 2e-3, weight decay 1e-2) in `run.dtype`. */
export function trainOnce(run: TrainRun, trainSet: Dataset, testSet: Dataset, c: Omit<StateFormatsConfig, 'seeds'>): { model: Mlp; accuracy: number; bytesPerParameter: number } {
  const model = new Mlp(c.sizes, seededRandom(run.seed));
  run.prepare?.(model);
  const opt = new AdamW(model.parameters(), { lr: 2e-3, weightDecay: 1e-2, stateDtype: run.dtype });
  const random = seededRandom(run.orderSeed ?? run.seed + 1);
  const order = Uint32Array.from({ length: trainSet.length }, (_, i) => i);
  const steps = Math.floor(trainSet.length / c.batch);
  const bar = new ProgressBar(`${run.dtype}, seed ${run.seed}`, steps * c.epochs);
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    shuffle(order, random);
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      const loss = model.backward(trainSet, order.subarray(s * c.batch, (s + 1) * c.batch));
      opt.step();
      run.afterStep?.(model, opt);
      bar.tick(loss);
    }
  }
  bar.finish();
  const params = model.parameters();
  const bytes = params.reduce((sum, p) => sum + stateBytes(opt.state.get(p)!), 0);
  const numel = params.reduce((n, p) => n + p.numel, 0);
  return { model, accuracy: model.accuracy(testSet), bytesPerParameter: bytes / numel };
}

export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The sample standard deviation of the mean (NaN for fewer than two values). */
export function standardError(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
}

/** Accuracy points with a sign; a mean that rounds to zero prints as +0.00, never -0.00. */
const points = (x: number) => {
  const text = Math.abs(100 * x).toFixed(2);
  return `${x < 0 && Number(text) !== 0 ? '-' : '+'}${text}`;
};
const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Trains every format once per seed and prints the per-seed table and the paired comparison. */
export function compareStateFormats(trainSet: Dataset, testSet: Dataset, c: StateFormatsConfig): StateFormatResult[] {
  const results: StateFormatResult[] = DTYPES.map((dtype) => ({ dtype, accuracies: [], bytesPerParameter: 0 }));
  for (const seed of c.seeds) {
    for (const r of results) {
      const run = trainOnce({ dtype: r.dtype, seed }, trainSet, testSet, c);
      r.accuracies.push(run.accuracy);
      r.bytesPerParameter = run.bytesPerParameter;
    }
  }
  const base = results[0]!.accuracies;
  const k = c.seeds.length;
  console.log(`\nOptimizer state formats: ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}, ${k} seed${k === 1 ? '' : 's'} (each fixes the initialisation and the batch order, the same for all three), test accuracy on ${testSet.length} digits:`);
  console.log(`  ${'seed'.padEnd(10)} ${DTYPES.map((d) => d.padStart(10)).join(' ')}`);
  c.seeds.forEach((seed, i) => {
    console.log(`  ${String(seed).padEnd(10)} ${results.map((r) => percent(r.accuracies[i]!).padStart(10)).join(' ')}`);
  });
  console.log(`\n  ${'stateDtype'.padEnd(10)} ${'mean accuracy'.padStart(13)}  ${'vs float32: mean ± s.e.'.padEnd(24)} ${'per seed'.padEnd(15)} state bytes/parameter`);
  for (const r of results) {
    const diffs = r.accuracies.map((a, i) => a - base[i]!);
    const se = k > 1 ? (100 * standardError(diffs)).toFixed(2) : 'n/a';
    const spread = r === results[0] ? '' : `${points(Math.min(...diffs))} to ${points(Math.max(...diffs))}`;
    console.log(`  ${r.dtype.padEnd(10)} ${percent(mean(r.accuracies)).padStart(13)}  ${`${points(mean(diffs))} ± ${se} pt`.padEnd(24)} ${spread.padEnd(15)} ${r.bytesPerParameter.toFixed(2)}`);
  }
  console.log('  "vs float32": each seed\'s accuracy minus float32\'s with the same seed, averaged over the seeds;');
  console.log('  s.e. is the standard error of that mean. One seed\'s difference alone is mostly noise: float32');
  console.log('  runs whose moments take random noise of 8-bit rounding\'s size differ from plain float32 runs by');
  console.log('  up to 0.7 pt (standard deviation 0.3 pt over 12 seeds; docs/lowbit.md).');
  return results;
}
