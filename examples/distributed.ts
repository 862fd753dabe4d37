/**
 * The demo's MNIST perceptron trained data-parallel with ZeroRedundancyOptimizer: every rank
 * holds the whole model and 1/N of the AdamW state, computes the gradient of its own slice of
 * each global batch, and the optimizer averages the gradients, steps its shard and shares the
 * updated parameters, so all ranks end every step with the same model.
 *
 *   mpirun -np 2 node --import tsx examples/distributed.ts
 *
 * (as root add --allow-run-as-root; on one machine --oversubscribe allows more ranks than cores).
 * SIMD_ADAM_DEMO_QUICK=1 trains on fewer digits (tests).
 */
import { ParameterStore } from '../src/index.js';
import { mpiWorld, ZeroRedundancyOptimizer } from 'simd-adam-mpi';

import { Mlp } from './mlp.js';
import { loadMnist } from './mnist.js';
import { seededRandom, shuffle } from './random.js';

const QUICK = process.env.SIMD_ADAM_DEMO_QUICK === '1';
const CONFIG = QUICK ? { train: 1600, test: 500, epochs: 1, globalBatch: 64 } : { train: 8000, test: 2000, epochs: 3, globalBatch: 64 };
const SEED = 2024;
const SIZES = [784, 128, 64, 10];

const comm = await mpiWorld();
const log = (line: string) => comm.rank === 0 && console.log(line);
if (CONFIG.globalBatch % comm.size !== 0) throw new RangeError(`the global batch (${CONFIG.globalBatch}) must split evenly over ${comm.size} ranks`);
const perRank = CONFIG.globalBatch / comm.size;

// One flat buffer for the model, so that each rank's shard is a contiguous slice of it. Every
// rank draws the same initial values from the same seed.
const shapes = new Mlp(SIZES, seededRandom(SEED)).parameters();
const store = new ParameterStore(shapes.map((p) => ({ name: p.name!, shape: [...p.shape] })));
const model = new Mlp(SIZES, seededRandom(SEED), store.params);
const opt = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 1e-3, weightDecay: 1e-4 });
const { train, test } = loadMnist(CONFIG.train, CONFIG.test, SEED);

log(`${comm.size} rank(s) (${comm.library.split(',')[0]}), ${store.data.length} parameters, global batch ${CONFIG.globalBatch}`);
const stepMs: number[] = [];
for (let epoch = 0; epoch < CONFIG.epochs; epoch++) {
  // The same shuffle on every rank; rank r takes its own slice of each global batch.
  const order = shuffle(Uint32Array.from({ length: train.length }, (_, i) => i), seededRandom(SEED + epoch));
  let lossSum = 0, batches = 0;
  comm.resetTraffic();
  for (let start = 0; start + CONFIG.globalBatch <= train.length; start += CONFIG.globalBatch) {
    const mine = order.subarray(start + comm.rank * perRank, start + (comm.rank + 1) * perRank);
    store.attachGrads(); // zeroed views of the store's grad buffer: backward adds into them
    lossSum += model.backward(train, mine);
    const began = performance.now();
    await opt.stepAsync();
    stepMs.push(performance.now() - began);
    batches++;
  }
  const loss = new Float64Array([lossSum / batches]);
  await comm.allReduce(loss, 'sum');
  const sent = comm.traffic.bulkBytes / batches;
  log(`epoch ${epoch + 1}: mean loss ${(loss[0]! / comm.size).toFixed(4)}, test accuracy ${(100 * model.accuracy(test)).toFixed(1)}%, ` +
    `${(sent / 1e6).toFixed(2)} MB sent per rank per step`);
}
stepMs.sort((a, b) => a - b);
log(`optimizer step: median ${stepMs[stepMs.length >> 1]!.toFixed(2)} ms; state on this rank ${(opt.localStateBytes() / 1e6).toFixed(2)} MB ` +
  `(one AdamW would hold ${((8 * store.data.length) / 1e6).toFixed(2)} MB)`);

// Every rank holds the same parameters: check it once, cheaply, with a checksum.
const sum = new Float64Array([store.data.reduce((a, b) => a + b, 0)]);
const max = Float64Array.from(sum);
await comm.allReduce(max, 'max');
if (max[0] !== sum[0]) throw new Error(`rank ${comm.rank}: parameters differ from another rank's`);
