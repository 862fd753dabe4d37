/**
 * Run by mpirun: per-rank shard files (writeShard / loadShard). STATE_DTYPE picks the state
 * format (model.ts). DIR holds the files, `<TAG>-<rank>.safetensors`.
 * MODE=save: 10 sharded steps, then writeShard with a scheduler and metadata (TAG, default 'a').
 * MODE=resume: a fresh process loads its file, 10 more steps, compared with one uninterrupted
 * single-process run of 20 steps on the same mean gradients.
 * MODE=refuse: after 2 steps of its own, tries files that do not fit this rank (CASE: 'swap',
 * another rank's file; 'lone', rank 0 alone takes rank 1's; 'size', the files of another world
 * size; 'layout', another model; 'mixed', rank 0 a file of save 'b'); prints the codes and
 * whether anything changed.
 */
import { AdamW, ParameterStore, readStateDict, StepLR } from 'simd-adam';
import { mpiWorld, ZeroRedundancyOptimizer } from '../../src/index.js';
import { makeStore, sameBits, sameMoment, setGrads, stateOptions } from './model.js';

const comm = await mpiWorld();
const dir = process.env.DIR!;
const mode = process.env.MODE!;
const options = { lr: 0.01, weightDecay: 0.05, amsgrad: true, ...stateOptions() };
const fileOf = (tag: string, rank: number) => `${dir}/${tag}-${rank}.safetensors`;
const store = makeStore();
const zero = new ZeroRedundancyOptimizer(store, { optimizer: 'AdamW', comm, ...options });
const schedule = new StepLR(zero, { stepSize: 4, gamma: 0.5 });

if (mode === 'save') {
  for (let step = 0; step < 10; step++) {
    setGrads(store, comm.rank, step);
    await zero.stepAsync();
    schedule.step();
  }
  const file = fileOf(process.env.TAG ?? 'a', comm.rank);
  await zero.writeShard(file, { scheduler: schedule.stateDict(), metadata: { epoch: 3, rank: comm.rank } });
  // The file as any safetensors reader sees it.
  const written = await readStateDict(file);
  const meta = (written.metadata as { zero_shard: Record<string, unknown> }).zero_shard;
  const firstState = Object.values(written.state)[0] as Record<string, unknown> | undefined;
  console.log(
    JSON.stringify({
      rank: comm.rank,
      meta: { rank: meta.rank, world_size: meta.world_size, shard: meta.shard, total: meta.total },
      stateKeys: Object.keys(firstState ?? {}).sort(),
      stateDtypes: Object.values(written.state).map((e) => (e as { exp_avg: { dtype?: string } }).exp_avg.dtype ?? 'float32'),
      paramElements: Object.values(written.params ?? {}).reduce((n, t) => n + t.data.length, 0),
    }),
  );
} else if (mode === 'resume') {
  const loaded = await zero.loadShard(fileOf('a', comm.rank));
  schedule.loadStateDict(loaded.scheduler!);
  const ref = makeStore();
  const single = new AdamW(ref.params, options);
  const refSchedule = new StepLR(single, { stepSize: 4, gamma: 0.5 });
  for (let step = 0; step < 20; step++) {
    if (step >= 10) {
      setGrads(store, comm.rank, step);
      await zero.stepAsync();
      schedule.step();
    }
    setGrads(ref, 0, step, comm.size);
    single.step();
    refSchedule.step();
  }
  console.log(JSON.stringify({ rank: comm.rank, identical: sameBits(store.data, ref.data), lr: zero.paramGroups[0]!.lr, refLr: single.paramGroups[0]!.lr, metadata: loaded.metadata }));
} else {
  // Some state and an lr of its own first, so that "nothing changed" means something.
  for (let step = 0; step < 2; step++) {
    setGrads(store, comm.rank, step);
    await zero.stepAsync();
  }
  zero.paramGroups[0]!.lr = 0.003;
  const params = store.data.slice();
  const before = await zero.consolidateStateDict();
  const which = process.env.CASE!;
  let target = fileOf('a', comm.rank);
  let opt = zero;
  if (which === 'swap') target = fileOf('a', (comm.rank + 1) % comm.size);
  if (which === 'lone' && comm.rank === 0) target = fileOf('a', 1);
  if (which === 'mixed' && comm.rank === 0) target = fileOf('b', 0);
  if (which === 'layout') {
    // The same parameters but for one more element in 'big': another flat layout.
    const other = new ParameterStore(store.params.map((p) => ({ name: p.name!, shape: p.name === 'big' ? [p.numel + 1] : [...p.shape], requiresGrad: p.requiresGrad })));
    opt = new ZeroRedundancyOptimizer(other, { optimizer: 'AdamW', comm, ...options });
  }
  const code = await opt.loadShard(target).then(
    () => 'loaded',
    (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
  );
  const after = await zero.consolidateStateDict();
  const unchangedState =
    comm.rank !== 0 ||
    (JSON.stringify(Object.keys(before!.state)) === JSON.stringify(Object.keys(after!.state)) &&
      Object.entries(before!.state).every(([id, a]) => {
        const b = after!.state[Number(id)] as Record<string, unknown>;
        const x = a as Record<string, unknown>;
        return x.step === b.step && ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'].every((k) => sameMoment(x[k], b[k]));
      }));
  console.log(JSON.stringify({ rank: comm.rank, code, unchanged: sameBits(params, store.data) && unchangedState && zero.paramGroups[0]!.lr === 0.003 }));
}
