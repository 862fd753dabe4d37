/**
 * simd-adam demo: trains a multilayer perceptron on real MNIST digits, then shows the
 * frozen-parameter trap in numbers.
 *
 *   Phase 1 trains every layer with AdamW.
 *   Phase 2 freezes the first layer three ways, each from the same phase-1 checkpoint:
 *     zeroed gradients       zeroGrad({ setToNone: false }): weight decay and momentum still move it
 *     grad = null            zeroGrad(): step() skips it, bit for bit
 *     requiresGrad = false   step() skips it whatever its grad holds
 *
 * The chart puts the loss curves beside the frozen layer's drift per step, on a log scale: the
 * zeroed-gradient layer climbs, the other two stay at exactly 0.
 *
 * Run: npm run demo. SIMD_ADAM_DEMO_QUICK=1 trains on fewer digits (tests);
 * SIMD_ADAM_DEMO_OUT=<file.svg> chooses where the chart goes. `npm run demo -- --state`
 * instead compares float32, bfloat16 and 8-bit optimizer state over several seeds
 * (examples/state_formats.ts; `--seeds N` sets how many, 8 by default, 2 in quick mode).
 */
import { resolve } from 'node:path';

import { AdamW, backend } from '../src/index.js';

import { writeChart, type Panel, type Series } from './chart.js';
import { checkpoint } from './checkpoint.js';
import { drift } from './drift.js';
import { Mlp, type BackwardOptions } from './mlp.js';
import { loadMnist, type Dataset } from './mnist.js';
import { ProgressBar } from './progress.js';
import { seededRandom, shuffle } from './random.js';
import { compareStateFormats } from './state_formats.js';

const QUICK = process.env.SIMD_ADAM_DEMO_QUICK === '1';
const CONFIG = QUICK
  ? { train: 1500, test: 500, phase1Epochs: 1, phase2Epochs: 1, batch: 50, stateSeeds: 2 }
  : { train: 8000, test: 2000, phase1Epochs: 4, phase2Epochs: 2, batch: 64, stateSeeds: 8 };
const SEED = 2024;
const SIZES = [784, 128, 64, 10];
const CHART = resolve(process.env.SIMD_ADAM_DEMO_OUT ?? 'demo-output/loss-curve.svg');

const started = performance.now();
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const number = (x: number) => (x === 0 ? '0' : x.toExponential(2));
// A curve of several hundred noisy minibatch losses reads better as the means of short runs.
const smooth = (losses: readonly number[], offset: number, window: number): Array<[number, number]> => {
  const points: Array<[number, number]> = [];
  for (let i = 0; i < losses.length; i += window) {
    const chunk = losses.slice(i, i + window);
    points.push([offset + i + chunk.length, chunk.reduce((a, b) => a + b, 0) / chunk.length]);
  }
  return points;
};
const meanOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

interface Run {
  label: string;
  epochs: number;
  /** Clears grads before each backward pass; how it clears them is what phase 2 compares. */
  zeroGrad: () => void;
  backward?: BackwardOptions;
  /** Called once, after the first backward pass and before the first step. */
  beforeFirstStep?: () => void;
  /** Called after every step. */
  afterStep?: () => void;
}

/** Minibatch training with a fixed shuffle seed, so every run sees the same batches. */
function train(model: Mlp, opt: AdamW, data: Dataset, run: Run, seed: number): number[] {
  const random = seededRandom(seed);
  const order = Uint32Array.from({ length: data.length }, (_, i) => i);
  const stepsPerEpoch = Math.floor(data.length / CONFIG.batch);
  const bar = new ProgressBar(run.label, stepsPerEpoch * run.epochs);
  const losses: number[] = [];
  for (let epoch = 0; epoch < run.epochs; epoch++) {
    shuffle(order, random);
    for (let s = 0; s < stepsPerEpoch; s++) {
      run.zeroGrad();
      const loss = model.backward(data, order.subarray(s * CONFIG.batch, (s + 1) * CONFIG.batch), run.backward);
      if (losses.length === 0) run.beforeFirstStep?.();
      opt.step();
      run.afterStep?.();
      losses.push(loss);
      bar.tick(loss);
    }
  }
  bar.finish();
  return losses;
}

/** What opt.explain() says the next step will do with each parameter. */
function printExplain(opt: AdamW): void {
  for (const entry of opt.explain()) {
    const what = entry.action === 'update' ? 'update' : 'skip  ';
    console.log(`      ${String(entry.name).padEnd(11)} group ${entry.group}  ${what}  (${entry.reason})`);
  }
}

console.log(`simd-adam demo: an MLP ${SIZES.join('-')} on MNIST digits, AdamW, backend ${backend()}`);
const { train: trainSet, test: testSet } = loadMnist(CONFIG.train, CONFIG.test, SEED);
console.log(`  data: ${trainSet.length} training and ${testSet.length} test digits from the 'mnist' package (shipped in its tarball)`);

if (process.argv.includes('--state')) {
  // Consecutive seeds from the demo's own: one run per format and seed (see state_formats.ts).
  const at = process.argv.indexOf('--seeds');
  const count = at >= 0 ? Number(process.argv[at + 1]) : CONFIG.stateSeeds;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`--seeds: expected a whole number of seeds ≥ 1, got ${process.argv[at + 1]}`);
  const seeds = Array.from({ length: count }, (_, i) => SEED + i);
  compareStateFormats(trainSet, testSet, { sizes: SIZES, seeds, epochs: CONFIG.phase1Epochs, batch: CONFIG.batch });
  console.log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  process.exit(0);
}

const model = new Mlp(SIZES, seededRandom(SEED));
const opt = new AdamW(model.parameters(), { lr: 2e-3, weightDecay: 1e-2 });
console.log(`  initial test accuracy ${percent(model.accuracy(testSet))}`);

console.log('\nPhase 1: train all layers');
const phase1 = train(model, opt, trainSet, { label: 'all layers', epochs: CONFIG.phase1Epochs, zeroGrad: () => opt.zeroGrad() }, SEED + 1);
const head = Math.min(20, phase1.length);
console.log(`  loss ${meanOf(phase1.slice(0, head)).toFixed(4)} → ${meanOf(phase1.slice(-head)).toFixed(4)} (mean of the first and last ${head} steps), test accuracy ${percent(model.accuracy(testSet))}`);

const fc1 = model.layers[0]!;
const firstLayer = [fc1.weight, fc1.bias];
const restore = checkpoint(model.parameters(), opt);
const frozenValues = firstLayer.map((p) => p.data.slice());
const firstLayerSize = firstLayer.reduce((n, p) => n + p.numel, 0);

interface FreezeMethod {
  key: string;
  label: string;
  color: string;
  dashed?: boolean;
  /** Applied right after the checkpoint is restored. */
  freeze?: () => void;
  run: Omit<Run, 'label' | 'epochs'>;
}

const methods: FreezeMethod[] = [
  {
    key: 'zeroed gradients',
    label: 'zeroGrad({ setToNone: false }), fc1 detached',
    color: '#d62728',
    // The common port of a PyTorch habit: grads are zero-filled, and backward never reaches fc1.
    run: { zeroGrad: () => opt.zeroGrad({ setToNone: false }), backward: { detachBelow: 1 } },
  },
  {
    key: 'grad = null',
    label: 'zeroGrad(), fc1 detached',
    color: '#2ca02c',
    run: { zeroGrad: () => opt.zeroGrad(), backward: { detachBelow: 1 } },
  },
  {
    key: 'requiresGrad = false',
    label: 'fc1.requiresGrad = false',
    color: '#1f77b4',
    // Dashed: it coincides with grad = null, as it should.
    dashed: true,
    freeze: () => firstLayer.forEach((p) => (p.requiresGrad = false)),
    run: { zeroGrad: () => opt.zeroGrad() },
  },
];

console.log(`\nPhase 2: freeze the first layer (fc1, ${firstLayerSize.toLocaleString('en-US')} values) three ways, each from the phase-1 checkpoint`);
const results = methods.map((method) => {
  restore();
  method.freeze?.();
  console.log(`\n  ${method.key}: ${method.label}`);
  const driftPerStep: number[] = [];
  const losses = train(model, opt, trainSet, {
    ...method.run,
    label: method.key,
    epochs: CONFIG.phase2Epochs,
    beforeFirstStep: () => {
      console.log('    opt.explain() before the first step:');
      printExplain(opt);
    },
    afterStep: () => driftPerStep.push(drift(frozenValues, firstLayer.map((p) => p.data)).relativeL2),
  }, SEED + 2);
  const moved = drift(frozenValues, firstLayer.map((p) => p.data));
  return { ...method, losses, driftPerStep, moved, accuracy: model.accuracy(testSet) };
});

const steps = results[0]!.losses.length;
console.log(`\nDrift of the frozen first layer after ${steps} steps of phase 2:`);
console.log(`  ${'method'.padEnd(22)} ${'max |Δ|'.padStart(10)} ${'‖Δ‖/‖fc1‖'.padStart(10)}  unchanged bit for bit   test accuracy`);
for (const r of results) {
  const same = r.moved.bitIdentical ? 'yes' : 'NO';
  console.log(`  ${r.key.padEnd(22)} ${number(r.moved.maxAbs).padStart(10)} ${number(r.moved.relativeL2).padStart(10)}  ${same.padEnd(22)} ${percent(r.accuracy)}`);
}
console.log('  Zero-filled grads still get AdamW\'s weight decay and the momentum left from phase 1, so the');
console.log('  "frozen" layer keeps moving. grad = null and requiresGrad = false leave it exactly as it was.');

const window = Math.max(1, Math.round((phase1.length + steps) / 120));
const series: Series[] = [
  { name: 'phase 1: all layers', color: '#444444', points: smooth(phase1, 0, window) },
  ...results.map((r) => ({
    name: `phase 2: ${r.key}`,
    color: r.color,
    dashed: r.dashed ?? false,
    points: [[phase1.length, meanOf(phase1.slice(-window))] as [number, number], ...smooth(r.losses, phase1.length, window)],
  })),
];
const lossPanel: Panel = {
  id: 'loss',
  series,
  options: {
    title: `MLP ${SIZES.join('-')} on MNIST with simd-adam AdamW`,
    xLabel: 'step',
    yLabel: `training loss (cross-entropy, mean of ${window} steps)`,
    markers: [{ x: phase1.length, label: 'phase 2: fc1 frozen' }],
  },
};
// The lesson itself: how far the "frozen" layer has moved after each phase-2 step. A log axis
// shows the zeroed-gradient drift from its first step on; exact zeros sit on the floor line.
const driftPanel: Panel = {
  id: 'drift',
  series: results.map((r) => ({
    name: r.moved.bitIdentical ? `${r.key}: 0, bit for bit` : r.key,
    color: r.color,
    dashed: r.dashed ?? false,
    points: r.driftPerStep.map((d, i) => [i + 1, d] as [number, number]),
    ...(r.moved.bitIdentical ? {} : { endLabel: `${percent(r.moved.relativeL2)} of ‖fc1‖ after ${steps} steps` }),
  })),
  options: {
    title: 'Drift of the frozen layer fc1',
    xLabel: 'phase-2 step',
    yLabel: '‖fc1 − fc1 at freeze‖ / ‖fc1 at freeze‖ (log)',
    yScale: 'log',
    zeroLabel: '0 (bit for bit)',
    legend: 'bottom-right',
  },
};
writeChart(CHART, [lossPanel, driftPanel]);
console.log(`\nChart (loss curves, and the frozen layer's drift per step): ${CHART}`);
console.log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
