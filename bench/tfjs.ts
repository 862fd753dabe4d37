/**
 * The tfjs section of `npm run bench`: simd-adam/tfjs against tf.train.adam, on tfjs's cpu and
 * wasm backends.
 *
 *   optimizer step   applyGradients() on a 4M-parameter model (four 1024×1024 kernels and
 *                    their biases; --quick: 1M), the same gradients every step: SimdAdam({ eps: 1e-7 }) and
 *                    tf.train.adam(lr, 0.9, 0.999, 1e-7), interleaved, medians.
 *   model.fit epoch  the demo's MLP 784-128-64-10 on MNIST digits, one epoch of model.fit with
 *                    SimdAdamW and with tf.train.adam, interleaved, medians.
 *
 * tf.train.adam and tfjs's kernels are single-threaded; SimdAdam runs on simd-adam's thread pool
 * (numThreads()), as a user gets it. Run alone: npx tsx bench/tfjs.ts [--quick].
 */
import { fileURLToPath } from 'node:url';

import { numThreads } from '../src/index.js';
import { SimdAdam, SimdAdamW } from '../src/tfjs/index.js';
import { loadMnist } from '../examples/mnist.js';
import { loadTfjs, mnistModel, tensorsOf, type Tfjs } from '../examples/tfjs/model.js';
import { median } from './roofline.js';
import { interleave, target, timeCall, type Target } from './targets.js';

type Tensor = import('@tensorflow/tfjs').Tensor;

/** Four width×width kernels and their biases: 4M parameters at width 1024 (--quick: 1M at 512). */
const shapesOf = (width: number): number[][] => [...Array.from({ length: 4 }, () => [width, width]), ...Array.from({ length: 4 }, () => [width])];
const sizeOf = (shapes: number[][]) => shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

/** Two copies of the model's variables (one per optimizer) and a gradient map for each. */
function bigModel(tf: Tfjs, shapes: number[][]): { maps: [Record<string, Tensor>, Record<string, Tensor>]; dispose: () => void } {
  const made: Tensor[] = [];
  const maps = [0, 1].map(() => ({}) as Record<string, Tensor>) as [Record<string, Tensor>, Record<string, Tensor>];
  shapes.forEach((shape, i) => {
    const init = tf.randomNormal(shape, 0, 0.02, 'float32', 2 * i);
    const grad = tf.randomNormal(shape, 0, 0.01, 'float32', 2 * i + 1);
    for (const map of maps) {
      const v = tf.variable(init);
      map[v.name] = grad;
      made.push(v);
    }
    made.push(init, grad);
  });
  return { maps, dispose: () => tf.dispose(made) };
}

async function stepTarget(tf: Tfjs, backend: 'cpu' | 'wasm', quick: boolean): Promise<Target> {
  await tf.setBackend(backend);
  const shapes = shapesOf(quick ? 512 : 1024);
  const parameters = sizeOf(shapes);
  const model = bigModel(tf, shapes);
  const simd = new SimdAdam({ lr: 1e-3, eps: 1e-7 });
  const adam = tf.train.adam(1e-3, 0.9, 0.999, 1e-7);
  // tf.train.adam takes about a second a step on the cpu backend here: few rounds there.
  const rounds = backend === 'cpu' ? (quick ? 3 : 7) : quick ? 7 : 21;
  const m = interleave(timeCall(() => adam.applyGradients(model.maps[1] as Parameters<typeof adam.applyGradients>[0])), timeCall(() => simd.applyGradients(model.maps[0])), rounds);
  const goal = backend === 'cpu' ? 5 : 1;
  const name = `${parameters >> 20}M-parameter model, tfjs ${backend}: SimdAdam (${numThreads()} threads) ${goal > 1 ? `≥ ${goal}×` : 'faster than'} tf.train.adam`;
  console.log(`  ${name.padEnd(78)} ${(m.a / parameters).toPrecision(3).padStart(8)} vs ${(m.b / parameters).toPrecision(3).padStart(6)} ns/element: ${(m.a / m.b).toFixed(1)}×`);
  simd.dispose();
  adam.dispose();
  model.dispose();
  return target(name, 'tf.train.adam / SimdAdam, per step', m, '>=', goal, rounds);
}

/** One epoch of model.fit per optimizer and round, alternating, after a warm-up epoch each. */
async function fitTarget(tf: Tfjs, backend: 'cpu' | 'wasm', quick: boolean): Promise<Target> {
  await tf.setBackend(backend);
  const { train } = loadMnist(quick ? 320 : 2560, 0, 2024);
  const { xs, ys } = tensorsOf(tf, train);
  const make = [() => new SimdAdamW({ lr: 1e-3, weightDecay: 1e-2 }), () => tf.train.adam(1e-3)];
  const models = make.map((optimizer) => {
    const model = mnistModel(tf, 2024);
    model.compile({ optimizer: optimizer(), loss: 'categoricalCrossentropy' });
    return model;
  });
  const epoch = async (k: number) => {
    const start = process.hrtime.bigint();
    await models[k]!.fit(xs, ys, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
    return Number(process.hrtime.bigint() - start);
  };
  await epoch(0);
  await epoch(1);
  const rounds = quick ? 3 : 5;
  const times: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) for (const k of r % 2 ? [1, 0] : [0, 1]) times[k]!.push(await epoch(k));
  const m = { a: median(times[1]!), b: median(times[0]!) };
  const name = `model.fit epoch, MNIST MLP ${train.length} digits, tfjs ${backend}: SimdAdamW faster than tf.train.adam`;
  console.log(`  ${name.padEnd(78)} ${(m.a / 1e9).toFixed(2).padStart(8)} vs ${(m.b / 1e9).toFixed(2).padStart(6)} s/epoch: ${(m.a / m.b).toFixed(2)}×`);
  models.forEach((model) => {
    model.optimizer.dispose();
    model.dispose();
  });
  tf.dispose([xs, ys]);
  return target(name, 'tf.train.adam / SimdAdamW, per epoch', m, '>=', 1, rounds);
}

/** The tfjs section's targets; prints each as it is measured. */
export async function tfjsTargets(quick: boolean): Promise<Target[]> {
  console.log('simd-adam/tfjs against tf.train.adam (interleaved medians; a vs b)');
  const tf = await loadTfjs('cpu');
  const out: Target[] = [];
  for (const backend of ['cpu', 'wasm'] as const) out.push(await stepTarget(tf, backend, quick));
  for (const backend of ['cpu', 'wasm'] as const) out.push(await fitTarget(tf, backend, quick));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const goals = await tfjsTargets(process.argv.includes('--quick'));
  console.table(goals.map((g) => ({ target: g.name, ratio: g.value.toFixed(2), holds: g.holds })));
}
