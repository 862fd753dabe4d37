/**
 * How much of the demo's accuracy difference between state formats is noise (docs/lowbit.md,
 * "Accuracy"). Trains the demo's MLP per seed with each variant and prints the per-seed test
 * accuracy and, for each variant, the mean ± standard error and the spread of its paired
 * difference to plain float32:
 *
 *   float32, bfloat16, 8bit   the three state formats (what `npm run demo -- --state` runs)
 *   float32+8bit-rounding     float32 state whose 8-bit-sized tensors are rounded to 8 bits after
 *                             each step by the TypeScript reference quantizer: LOWBIT's definition
 *                             of an 8-bit step, written outside the kernels. Its final weights must
 *                             equal the 8bit run's bit for bit (the "weights" column).
 *   float32+noise             the same tensors moved after each step by their 8-bit rounding
 *                             error with a random sign: noise exactly the size of 8-bit rounding
 *   float32+order             another batch order (the noise floor of a different trajectory)
 *   float32+ulp               one weight of the first layer one float32 ulp off at the start
 *
 * Run: npx tsx bench/state_accuracy.ts [first seed] [seed count] [variants, comma-separated].
 * Several minutes: each run is the demo's full training (8000 digits, 4 epochs).
 */
import { createHash } from 'node:crypto';

import type { AdamW } from '../src/index.js';
import { dequantizeQ8, quantizeQ8 } from '../src/reference/adam_lowbit.js';
import type { Mlp } from '../examples/mlp.js';
import { loadMnist } from '../examples/mnist.js';
import { seededRandom } from '../examples/random.js';
import { mean, standardError, trainOnce, type TrainRun } from '../examples/state_formats.js';

const CONFIG = { sizes: [784, 128, 64, 10], epochs: 4, batch: 64 };
const MIN_8BIT_SIZE = 4096; // the default, which the 8bit runs use

/** Moves every stored moment of the tensors an 8-bit group would quantize by its 8-bit rounding
 * error: with the error's own sign (`sign` null: exactly the 8-bit step), or a random one. */
function roundLike8bit(model: Mlp, opt: AdamW, sign: (() => number) | null): void {
  for (const p of model.parameters()) {
    if (p.numel < MIN_8BIT_SIZE) continue;
    const s = opt.state.get(p)!;
    for (const [x, signed] of [[s.expAvg, true], [s.expAvgSq, false]] as const) {
      if (!(x instanceof Float32Array)) throw new Error('float32 state expected');
      const rounded = dequantizeQ8(quantizeQ8(x, signed), signed);
      for (let i = 0; i < x.length; i++) {
        const moved = x[i]! + (sign ? sign() : 1) * (rounded[i]! - x[i]!);
        // exp_avg_sq must stay >= 0 (its square root is taken); the exact rounding never goes below.
        x[i] = signed ? moved : Math.max(0, moved);
      }
    }
  }
}

const VARIANTS: Record<string, (seed: number) => TrainRun> = {
  float32: (seed) => ({ dtype: 'float32', seed }),
  bfloat16: (seed) => ({ dtype: 'bfloat16', seed }),
  '8bit': (seed) => ({ dtype: '8bit', seed }),
  'float32+8bit-rounding': (seed) => ({ dtype: 'float32', seed, afterStep: (m, o) => roundLike8bit(m, o, null) }),
  'float32+noise': (seed) => {
    const random = seededRandom(seed + 99);
    return { dtype: 'float32', seed, afterStep: (m, o) => roundLike8bit(m, o, () => (random() < 0.5 ? 1 : -1)) };
  },
  'float32+order': (seed) => ({ dtype: 'float32', seed, orderSeed: seed + 7777 }),
  'float32+ulp': (seed) => ({
    dtype: 'float32',
    seed,
    prepare: (m) => {
      const w = m.layers[0]!.weight.data;
      new Uint32Array(w.buffer, w.byteOffset, 1)[0]! += 1;
    },
  }),
};

function main(): void {
  const [first = '2024', count = '12', list = Object.keys(VARIANTS).join(',')] = process.argv.slice(2);
  const seeds = Array.from({ length: Number(count) }, (_, i) => Number(first) + i);
  const names = list.split(',');
  for (const n of names) if (!VARIANTS[n]) throw new RangeError(`unknown variant '${n}'; expected one of ${Object.keys(VARIANTS).join(', ')}`);
  if (!names.includes('float32')) names.unshift('float32');
  const { train, test } = loadMnist(8000, 2000, 2024);
  const accuracy = new Map<string, number[]>(names.map((n) => [n, []]));
  const weights = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const seed of seeds) {
    for (const name of names) {
      const run = trainOnce(VARIANTS[name]!(seed), train, test, CONFIG);
      const hash = createHash('sha256');
      for (const p of run.model.parameters()) hash.update(p.data);
      accuracy.get(name)!.push(100 * run.accuracy);
      weights.get(name)!.push(hash.digest('hex').slice(0, 8));
    }
  }
  console.log(`\nTest accuracy (%) on ${test.length} digits, ${CONFIG.epochs} epochs; weights: the first 8 hex digits of a SHA-256 of the final parameters`);
  console.log(`| seed | ${names.join(' | ')} |\n|---|${names.map(() => '---').join('|')}|`);
  seeds.forEach((seed, i) => console.log(`| ${seed} | ${names.map((n) => `${accuracy.get(n)![i]!.toFixed(2)} (${weights.get(n)![i]})`).join(' | ')} |`));
  const base = accuracy.get('float32')!;
  console.log(`\nPaired difference to float32 over ${seeds.length} seeds (points):\n| variant | mean ± s.e. | standard deviation | largest |\n|---|---|---|---|`);
  for (const n of names.slice(1)) {
    const d = accuracy.get(n)!.map((a, i) => a - base[i]!);
    // One seed has no spread to estimate.
    const se = d.length > 1 ? standardError(d).toFixed(3) : 'n/a';
    const sd = d.length > 1 ? (standardError(d) * Math.sqrt(d.length)).toFixed(3) : 'n/a';
    console.log(`| ${n} | ${mean(d) >= 0 ? '+' : ''}${mean(d).toFixed(3)} ± ${se} | ${sd} | ${Math.max(...d.map(Math.abs)).toFixed(2)} |`);
  }
}

main();
