/**
 * Run by mpirun. MODE=save: 10 sharded steps, consolidateStateDict() on rank 0, compared with a
 * single-process AdamW's stateDict() and written to FILE with the parameters and the scheduler.
 * MODE=resume (any world size): load FILE, 10 more steps, compared with one uninterrupted
 * single-process run of 20 steps on the same mean gradients (over SAVED_SIZE ranks, then over
 * this world's size).
 */
import { AdamW, readStateDict, StepLR, writeStateDict, type AdamStateDictEntry } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';
import { makeStore, sameBits, sameMoment, setGrads, stateOptions } from './model.js';

const comm = await mpiWorld();
const file = process.env.FILE!;
const savedSize = Number(process.env.SAVED_SIZE);
const options = { lr: 0.01, weightDecay: 0.05, amsgrad: true, ...stateOptions() };
const store = makeStore();
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, ...options });
const ref = makeStore();
const single = new AdamW(ref.params, options);
const refSchedule = new StepLR(single, { stepSize: 4, gamma: 0.5 });
for (let step = 0; step < 10; step++) {
  setGrads(ref, 0, step, savedSize);
  single.step();
  refSchedule.step();
}

if (process.env.MODE === 'save') {
  const schedule = new StepLR(zero, { stepSize: 4, gamma: 0.5 });
  for (let step = 0; step < 10; step++) {
    setGrads(store, comm.rank, step);
    await zero.stepAsync();
    schedule.step();
  }
  const dict = await zero.consolidateStateDict();
  const out: Record<string, unknown> = { rank: comm.rank, isNull: dict === null };
  if (dict) {
    const expected = single.stateDict();
    const ids = Object.keys(expected.state);
    out.sameIds = JSON.stringify(Object.keys(dict.state)) === JSON.stringify(ids);
    out.sameState = ids.every((id) => {
      const a = expected.state[Number(id)] as AdamStateDictEntry, b = dict.state[Number(id)] as unknown as AdamStateDictEntry;
      return a.step === b.step && sameMoment(a.exp_avg, b.exp_avg) && sameMoment(a.exp_avg_sq, b.exp_avg_sq) && sameMoment(a.max_exp_avg_sq, b.max_exp_avg_sq);
    });
    const format = (m: unknown) => (m instanceof Float32Array ? 'float32' : m instanceof Uint16Array ? 'bfloat16' : '8bit');
    out.formats = [...new Set(Object.values(dict.state).map((e) => format((e as unknown as AdamStateDictEntry).exp_avg)))].sort();
    out.sameGroups = JSON.stringify(dict.param_groups) === JSON.stringify(expected.param_groups);
    out.sameParams = sameBits(store.data, ref.data);
    await writeStateDict(file, dict, { params: store.params, scheduler: schedule.stateDict() });
  }
  console.log(JSON.stringify(out));
} else {
  const checkpoint = await readStateDict(file);
  for (const p of store.params) p.data.set(checkpoint.params![p.name!]!.data);
  zero.loadStateDict(checkpoint);
  const schedule = new StepLR(zero, { stepSize: 4, gamma: 0.5 });
  schedule.loadStateDict(checkpoint.scheduler!);
  for (let step = 10; step < 20; step++) {
    setGrads(store, comm.rank, step);
    await zero.stepAsync();
    schedule.step();
    setGrads(ref, 0, step, comm.size);
    single.step();
    refSchedule.step();
  }
  console.log(JSON.stringify({ rank: comm.rank, identical: sameBits(store.data, ref.data), lr: zero.paramGroups[0]!.lr, refLr: single.paramGroups[0]!.lr }));
}
