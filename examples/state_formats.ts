/**
 * `npm run demo -- --state`: the same MLP trained from the same initialisation on the same
 * batches with float32, bfloat16 and 8-bit optimizer state, side by side: test accuracy, and the
 * optimizer's memory per parameter (8-bit applies to tensors of at least min8bitSize = 4096
 * elements; the biases and the small last layer keep float32 state).
 */
import { AdamW, type AdamState, type StateDtype } from '../src/index.js';

import { Mlp } from './mlp.js';
import type { Dataset } from './mnist.js';
import { ProgressBar } from './progress.js';
import { seededRandom, shuffle } from './random.js';

export interface StateFormatsConfig {
  sizes: readonly number[];
  seed: number;
  epochs: number;
  batch: number;
}

export interface StateFormatResult {
  dtype: StateDtype;
  accuracy: number;
  bytesPerParameter: number;
}

function stateBytes(s: AdamState): number {
  const moments = [s.expAvg, s.expAvgSq, ...(s.maxExpAvgSq ? [s.maxExpAvgSq] : [])];
  return moments.reduce((sum, m) => sum + (m instanceof Float32Array || m instanceof Uint16Array ? m.byteLength : m.codes.byteLength + m.scale.byteLength), 0);
}

function trainWith(dtype: StateDtype, trainSet: Dataset, testSet: Dataset, c: StateFormatsConfig): StateFormatResult {
  const model = new Mlp(c.sizes, seededRandom(c.seed));
  const opt = new AdamW(model.parameters(), { lr: 2e-3, weightDecay: 1e-2, stateDtype: dtype });
  const random = seededRandom(c.seed + 1);
  const order = Uint32Array.from({ length: trainSet.length }, (_, i) => i);
  const steps = Math.floor(trainSet.length / c.batch);
  const bar = new ProgressBar(`${dtype} state`, steps * c.epochs);
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    shuffle(order, random);
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      const loss = model.backward(trainSet, order.subarray(s * c.batch, (s + 1) * c.batch));
      opt.step();
      bar.tick(loss);
    }
  }
  bar.finish();
  const params = model.parameters();
  const bytes = params.reduce((sum, p) => sum + stateBytes(opt.state.get(p)!), 0);
  const numel = params.reduce((n, p) => n + p.numel, 0);
  return { dtype, accuracy: model.accuracy(testSet), bytesPerParameter: bytes / numel };
}

/** Trains once per state format and prints the comparison. */
export function compareStateFormats(trainSet: Dataset, testSet: Dataset, c: StateFormatsConfig): StateFormatResult[] {
  const results = (['float32', 'bfloat16', '8bit'] as const).map((dtype) => trainWith(dtype, trainSet, testSet, c));
  const base = results[0]!.accuracy;
  console.log(`\nOptimizer state formats after ${c.epochs} epochs (same initialisation, same batches):`);
  console.log(`  ${'stateDtype'.padEnd(10)} ${'test accuracy'.padStart(13)} ${'vs float32'.padStart(11)} ${'state bytes/parameter'.padStart(22)}`);
  for (const r of results) {
    const delta = `${r.accuracy >= base ? '+' : ''}${(100 * (r.accuracy - base)).toFixed(2)} pt`;
    console.log(`  ${r.dtype.padEnd(10)} ${`${(100 * r.accuracy).toFixed(2)}%`.padStart(13)} ${delta.padStart(11)} ${r.bytesPerParameter.toFixed(2).padStart(22)}`);
  }
  return results;
}
