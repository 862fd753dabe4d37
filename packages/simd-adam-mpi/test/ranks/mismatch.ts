/**
 * Run by mpirun with 2 or more ranks: steps the ranks disagree on must fail on every rank, with
 * nothing changed and no rank left waiting, and a consistent step afterwards must still work.
 */
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';
import { makeStore, sameBits, setGrads } from './model.js';

const comm = await mpiWorld();
const last = comm.size - 1;
const store = makeStore();
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 0.01 });
const before = store.data.slice();
const started = Date.now();
const outcome: Record<string, unknown> = { rank: comm.rank };

async function attempt(name: string, spoil: () => void, restore = () => {}): Promise<void> {
  setGrads(store, comm.rank, 0);
  spoil();
  try {
    await zero.stepAsync();
    outcome[name] = 'stepped';
  } catch (error) {
    outcome[name] = (error as { code?: string }).code;
    outcome[`${name}Message`] = (error as Error).message;
  }
  restore();
  outcome[`${name}Unchanged`] = sameBits(before, store.data) && zero.localStateBytes() === 0;
}

// The last rank has no grad for 'big'; the others have one.
await attempt('nullGrad', () => {
  if (comm.rank === last) store.get('big')!.grad = null;
});
// The last rank froze 'w' on its own.
await attempt('frozen', () => {
  if (comm.rank === last) store.get('w')!.requiresGrad = false;
}, () => void (store.get('w')!.requiresGrad = true));
// Rank 0's grad for 'b' has the wrong length: rank 0 throws that, the others a mismatch.
await attempt('badGrad', () => {
  if (comm.rank === 0) store.get('b')!.grad = new Float32Array(3);
});
// Rank 0 changed lr on its own.
await attempt('lr', () => {
  if (comm.rank === 0) zero.paramGroups[0]!.lr = 0.02;
}, () => void (zero.paramGroups[0]!.lr = 0.01));
// Rank 0 set an lr the optimizer refuses.
await attempt('badLr', () => {
  if (comm.rank === 0) zero.paramGroups[0]!.lr = -1;
}, () => void (zero.paramGroups[0]!.lr = 0.01));
// Rank 0 alone guards against non-finite grads: the ranks would not make the same collectives.
const guarded = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, lr: 0.01, nonFinite: comm.rank === 0 ? 'skip' : 'propagate' });
setGrads(store, comm.rank, 0);
outcome.nonFinite = await guarded.stepAsync().then(() => 'stepped', (error: { code?: string }) => error.code);
outcome.nonFiniteUnchanged = sameBits(before, store.data) && guarded.localStateBytes() === 0;
outcome.seconds = (Date.now() - started) / 1000;
setGrads(store, comm.rank, 0);
await zero.stepAsync();
outcome.recovered = !sameBits(before, store.data) && zero.localStateBytes() > 0;
// A second stepAsync() while one is in flight is refused on this rank before any collective.
setGrads(store, comm.rank, 1);
const inFlight = zero.stepAsync();
outcome.busy = await zero.stepAsync().then(() => 'stepped', (error: { code?: string }) => error.code);
await inFlight;
console.log(JSON.stringify(outcome));
