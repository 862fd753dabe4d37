/**
 * simd-adam/tfjs demo: one tfjs model (an MLP 784-128-64-10) trained with model.fit on the
 * MNIST digits twice from the same weights and batches, once with SimdAdamW and once with
 * tf.train.adam, epochs alternating. Prints time per epoch, the optimizer's time per step and the test accuracy,
 * and writes both loss curves.
 *
 * Run: npm run demo:tfjs (cpu backend), npm run demo:tfjs -- --backend wasm.
 * SIMD_ADAM_DEMO_QUICK=1 trains on fewer digits (tests); SIMD_ADAM_DEMO_OUT=<file.svg> chooses
 * where the chart goes.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { SimdAdamW } from '../../src/tfjs/index.js';
import { writeChart, type Series } from '../chart.js';
import { loadMnist } from '../mnist.js';
import { accuracy, LAYERS, loadTfjs, mnistModel, tensorsOf, timeOptimizer } from './model.js';

const { values: args } = parseArgs({ options: { backend: { type: 'string', default: 'cpu' } } });
const QUICK = process.env.SIMD_ADAM_DEMO_QUICK === '1';
const CONFIG = QUICK ? { train: 1000, test: 300, epochs: 1, batch: 64 } : { train: 4000, test: 1000, epochs: 3, batch: 64 };
const SEED = 2024;
const LR = 1e-3;
const CHART = resolve(process.env.SIMD_ADAM_DEMO_OUT ?? 'demo-output/tfjs-loss-curve.svg');

const tf = await loadTfjs(args.backend!);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`simd-adam/tfjs demo: MLP ${LAYERS.join('-')} on MNIST digits with model.fit, tfjs backend ${tf.getBackend()}`);
const { train, test } = loadMnist(CONFIG.train, CONFIG.test, SEED);
const trainSet = tensorsOf(tf, train);
const testSet = tensorsOf(tf, test);
console.log(`  data: ${train.length} training and ${test.length} test digits, batches of ${CONFIG.batch}, ${CONFIG.epochs} epoch(s)`);

const runs = [
  { name: `SimdAdamW({ lr: ${LR}, weightDecay: 1e-2 })`, color: '#d62728', make: () => new SimdAdamW({ lr: LR, weightDecay: 1e-2 }) },
  { name: `tf.train.adam(${LR})`, color: '#1f77b4', make: () => tf.train.adam(LR) },
];

// tfjs's first pass through each kernel is slow: a throwaway model takes it, untimed.
const warmup = mnistModel(tf, SEED);
warmup.compile({ optimizer: tf.train.sgd(LR), loss: 'categoricalCrossentropy' });
await warmup.fit(trainSet.xs, trainSet.ys, { epochs: 1, batchSize: CONFIG.batch, shuffle: false, verbose: 0 });
warmup.dispose();

// The two runs alternate epoch by epoch, so that a change of load on the machine meets both.
const trainees = runs.map((run) => {
  const model = mnistModel(tf, SEED);
  const optimizer = run.make();
  const timer = timeOptimizer(optimizer);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return { run, model, optimizer, timer, losses: [] as number[], epochMs: [] as number[] };
});
for (let epoch = 0; epoch < CONFIG.epochs; epoch++) {
  for (const t of epoch % 2 ? [...trainees].reverse() : trainees) {
    const start = performance.now();
    const history = await t.model.fit(trainSet.xs, trainSet.ys, {
      epochs: 1,
      batchSize: CONFIG.batch,
      shuffle: false,
      verbose: 0,
      callbacks: { onBatchEnd: async (_batch, logs) => void t.losses.push(logs!.loss as number) },
    });
    t.epochMs.push(performance.now() - start);
    console.log(`  ${t.run.name.padEnd(44)} epoch ${epoch + 1}: loss ${(history.history.loss![0] as number).toFixed(4)}, ${(t.epochMs.at(-1)! / 1000).toFixed(2)} s`);
  }
}
const results = trainees.map((t) => {
  const result = { ...t.run, losses: t.losses, epochMs: median(t.epochMs), stepMs: median(t.timer.samplesMs), accuracy: accuracy(tf, t.model, testSet.xs, testSet.ys) };
  t.model.dispose();
  t.optimizer.dispose();
  return result;
});

const [simd, adam] = results as [(typeof results)[0], (typeof results)[0]];
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(`\n  ${'optimizer'.padEnd(44)} ${'s/epoch'.padStart(8)} ${'optimizer ms/step'.padStart(18)} ${'of the epoch'.padStart(13)} ${'test accuracy'.padStart(14)}`);
for (const r of results) {
  const share = (r.stepMs * r.losses.length) / CONFIG.epochs / r.epochMs;
  console.log(`  ${r.name.padEnd(44)} ${(r.epochMs / 1000).toFixed(2).padStart(8)} ${r.stepMs.toFixed(3).padStart(18)} ${percent(share).padStart(13)} ${percent(r.accuracy).padStart(14)}`);
}
console.log(`  SimdAdamW: epochs ${(adam.epochMs / simd.epochMs).toFixed(2)}× as fast, optimizer steps ${(adam.stepMs / simd.stepMs).toFixed(1)}× as fast (medians of epochs and of steps)`);

const window = Math.max(1, Math.round(simd.losses.length / 100));
const smooth = (losses: readonly number[]): Array<[number, number]> => {
  const points: Array<[number, number]> = [];
  for (let i = 0; i < losses.length; i += window) {
    const chunk = losses.slice(i, i + window);
    points.push([i + chunk.length, chunk.reduce((a, b) => a + b, 0) / chunk.length]);
  }
  return points;
};
const series: Series[] = results.map((r) => ({ name: `${r.name}: ${(r.epochMs / 1000).toFixed(2)} s/epoch`, color: r.color, points: smooth(r.losses) }));
writeChart(CHART, [
  {
    id: 'loss',
    series,
    options: {
      title: `tfjs MLP ${LAYERS.join('-')} on MNIST (${tf.getBackend()} backend): SimdAdamW vs tf.train.adam`,
      xLabel: 'step',
      yLabel: `training loss (cross-entropy, mean of ${window} steps)`,
    },
  },
]);
console.log(`\nLoss chart: ${CHART}`);
tf.dispose([trainSet.xs, trainSet.ys, testSet.xs, testSet.ys]);
