/**
 * Run as a child process with --expose-gc (test/step_async.test.ts): starts one asynchronous step
 * over a prepared plan whose buffers nothing in JS references any more, forces full collections
 * until it settles, then forces more after it; prints one JSON line of what survived.
 *   node --expose-gc --import tsx test/support/async-gc.ts
 *
 * The addon is driven directly because an optimizer's TypeScript step plan holds its Parameters
 * strongly: through Adam.stepAsync() the buffers would survive even if the addon did not hold
 * them. Here the plan's references are the addon's own, weak between steps (native/napi/prepared_plan.h).
 */
import { addon } from '../../src/native/addon.js';
import { encodePlan } from '../../src/engine/segment_table.js';
import { adamScalars } from '../../src/reference/adam.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

// One thread and a few million elements: the step spans several event-loop turns, so collections
// also run while the worker is writing, not only before it starts. Nothing depends on how many.
const ELEMENTS = 4_000_000;
addon.setNumThreads(1);

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The buffers exist only inside this function's frame, the returned `hold` and the plan. */
function stage() {
  const param = new Float32Array(ELEMENTS).fill(1);
  const grad = new Float32Array(ELEMENTS).fill(0.5);
  const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, decoupledWeightDecay: false };
  // amsgrad: the optional fifth buffer (max_exp_avg_sq) is held too.
  const { buffers, table, scalars } = encodePlan([
    {
      param,
      grad,
      expAvg: new Float32Array(ELEMENTS),
      expAvgSq: new Float32Array(ELEMENTS),
      maxExpAvgSq: new Float32Array(ELEMENTS),
      scalars: adamScalars(hyper, 1),
    },
  ]);
  return { plan: addon.prepare(buffers, table), scalars, refs: buffers.map((b) => new WeakRef(b)), hold: buffers };
}

const { plan, scalars, refs, hold } = stage();
// A WeakRef keeps its target alive until the end of the job that created (or dereferenced) it:
// every collection below runs in a later job than any WeakRef use.
await turn();

/** Dereferencing keeps the survivors alive until this job ends, hence a fresh turn before each gc. */
const alive = () => refs.filter((r) => r.deref() !== undefined).length;

const settled = addon.runAsync(plan, scalars);
let pending = true;
void settled.then(() => (pending = false));
// From here only the plan's references and the running step can keep the buffers alive.
hold.length = 0;

// The step was queued just now and its completion can only run on a later turn: this collection
// is certainly while it is pending, whatever the machine's speed.
gc();
let gcsWhilePending = 1;
let fewestAliveWhilePending = alive();
for (;;) {
  await turn();
  if (!pending) break;
  gc();
  gcsWhilePending++;
  fewestAliveWhilePending = Math.min(fewestAliveWhilePending, alive());
}
await settled;

// Read while the buffers are known to be alive: the step wrote through them.
const paramWritten = (() => {
  const param = refs[0]!.deref();
  return param !== undefined && new Float32Array(param as ArrayBuffer)[0] !== 1;
})();

// The control: once settled, the same collections do free the buffers even though the plan is
// still alive, so the survival above is the running step's doing and the GC pressure is real.
let aliveAfterSettle = refs.length;
for (let k = 0; k < 20 && aliveAfterSettle > 0; k++) {
  await turn();
  gc();
  aliveAfterSettle = alive();
}

// The plan outlived its buffers: running it again is refused, not a write into freed memory.
let runAfterCollection = 'ran';
try {
  addon.run(plan, scalars);
} catch (error) {
  runAfterCollection = (error as Error).message;
}

console.log(JSON.stringify({ buffers: refs.length, gcsWhilePending, fewestAliveWhilePending, paramWritten, aliveAfterSettle, runAfterCollection }));
