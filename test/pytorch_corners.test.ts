/**
 * The corners where simd-adam once differed from PyTorch 1.13, against the recordings of
 * scripts/record/pytorch_corners.py (test/fixtures/recorded): a param group added after a
 * scheduler was built, for every scheduler class; the scheduler-before-optimizer warning; and
 * clipGradNorm where float32 overflow or underflow decides the result.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import {
  Adam,
  availableBackends,
  backend,
  ChainedScheduler,
  clipGradNorm,
  ConstantLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  Parameter,
  PolynomialLR,
  ReduceLROnPlateau,
  SequentialLR,
  setBackend,
  StepLR,
} from '../src/index.js';
import { loadRecorded, recordedNumber } from './support/fixtures.js';

// ---------------------------------------------------------------------------------------------
// Schedulers with a group added mid-run

interface ChildSpec {
  scheduler: string;
  kwargs: Record<string, unknown>;
}
interface AddedGroupCase {
  name: string;
  scheduler: string;
  kwargs: Record<string, unknown>;
  base_lrs: number[];
  added_lr: number;
  add_at: number;
  steps: number;
  lrs: number[][];
  last_lrs: Array<number[] | null>;
  metrics?: number[];
  error?: { step: number; type: string; message: string };
}
interface Recording {
  reference: string;
  cases: AddedGroupCase[];
  warnings: Record<string, { scheduler_first: number; optimizer_first: number }>;
}

const recording = loadRecorded<Recording>('lr_scheduler_added_group.json');

type Ctor = new (optimizer: Adam, options: Record<string, unknown>) => LRScheduler;
const CLASSES: Record<string, Ctor> = {
  StepLR: StepLR as unknown as Ctor,
  MultiStepLR: MultiStepLR as unknown as Ctor,
  ConstantLR: ConstantLR as unknown as Ctor,
  LinearLR: LinearLR as unknown as Ctor,
  ExponentialLR: ExponentialLR as unknown as Ctor,
  PolynomialLR: PolynomialLR as unknown as Ctor,
  CosineAnnealingLR: CosineAnnealingLR as unknown as Ctor,
  CosineAnnealingWarmRestarts: CosineAnnealingWarmRestarts as unknown as Ctor,
  OneCycleLR: OneCycleLR as unknown as Ctor,
};

/** PyTorch's keyword to ours: T_max -> tMax, eta_min -> etaMin, T_0 -> t0. */
function camelCase(key: string): string {
  const [first = '', ...rest] = key.split('_');
  return first.toLowerCase() + rest.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function options(kwargs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kwargs).map(([key, value]) => [camelCase(key), value]));
}

function build(opt: Adam, scheduler: string, kwargs: Record<string, unknown>): LRScheduler {
  const children = () => (kwargs.schedulers as ChildSpec[]).map((c) => build(opt, c.scheduler, c.kwargs));
  if (scheduler === 'ChainedScheduler') return new ChainedScheduler(children());
  if (scheduler === 'SequentialLR') return new SequentialLR(opt, { schedulers: children(), milestones: kwargs.milestones as number[] });
  if (scheduler === 'LambdaLR') {
    const base = (kwargs.lr_lambda as { pow: number }).pow;
    return new LambdaLR(opt, { lrLambda: (epoch) => base ** epoch });
  }
  const ctor = CLASSES[scheduler];
  if (!ctor) throw new Error(`no scheduler class ${scheduler}`);
  return new ctor(opt, options(kwargs));
}

function optimizer(lrs: readonly number[]): Adam {
  return new Adam(lrs.map((lr) => ({ params: [new Parameter(new Float32Array(2))], lr })));
}

const lrsOf = (opt: Adam): number[] => opt.paramGroups.map((g) => g.lr);

function expectClose(actual: readonly number[], expected: readonly number[], where: string): void {
  expect(actual.length, where).toBe(expected.length);
  actual.forEach((value, g) => {
    const ref = expected[g]!;
    if (!(Math.abs(value - ref) <= 1e-15 + 1e-12 * Math.abs(ref))) expect.fail(`${where}, group ${g}: got ${value}, PyTorch ${ref}`);
  });
}

/** Replays a case up to (not including) the step PyTorch failed at, if any; returns the
 * optimizer and scheduler there, with the step that failed still to run. */
function replay(c: AddedGroupCase) {
  const opt = optimizer(c.base_lrs);
  const plateau = c.scheduler === 'ReduceLROnPlateau';
  const sched = plateau ? new ReduceLROnPlateau(opt, options(c.kwargs)) : build(opt, c.scheduler, c.kwargs);
  const stepAt = (i: number) => {
    if (i === c.add_at) opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], lr: c.added_lr });
    opt.step();
    return () => (sched instanceof ReduceLROnPlateau ? sched.step(c.metrics![i - 1]!) : sched.step());
  };
  expectClose(lrsOf(opt), c.lrs[0]!, `${c.name}, after construction`);
  const last = c.error ? c.error.step - 1 : c.steps;
  for (let i = 1; i <= last; i++) {
    stepAt(i)();
    expectClose(lrsOf(opt), c.lrs[i]!, `${c.name}, step ${i}`);
    if (c.last_lrs[i]) expectClose(sched.getLastLr(), c.last_lrs[i]!, `${c.name}, getLastLr() at step ${i}`);
    for (const lr of lrsOf(opt)) expect(typeof lr === 'number' && !Number.isNaN(lr)).toBe(true);
  }
  return { opt, sched, failing: c.error ? stepAt(c.error.step) : undefined };
}

describe(`a param group added after the scheduler was built (${recording.reference})`, () => {
  it('is recorded for every scheduler class', () => {
    const covered = new Set(recording.cases.map((c) => c.scheduler));
    for (const name of [...Object.keys(CLASSES), 'LambdaLR', 'SequentialLR', 'ChainedScheduler', 'ReduceLROnPlateau']) {
      expect(covered, name).toContain(name);
    }
  });

  const passing = recording.cases.filter((c) => !c.error);
  it.each(passing.map((c) => [c.name, c] as const))('%s: every group gets PyTorch\'s lr at every step', (_, c) => {
    replay(c);
  });

  const oneCycle = recording.cases.filter((c) => c.scheduler === 'OneCycleLR');
  it.each(oneCycle.map((c) => [c.name, c] as const))(
    '%s: where PyTorch raises (the group lacks its keys), a coded error at the same step, and nothing changed',
    (_, c) => {
      expect(c.error?.type).toBe('KeyError');
      const { opt, sched, failing } = replay(c);
      const before = { lrs: lrsOf(opt), betas: opt.paramGroups.map((g) => [...g.betas]), epoch: sched.lastEpoch };
      expect(failing).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_OPTION', message: expect.stringMatching(/paramGroups\[2\] has no initialLr/) }));
      expect({ lrs: lrsOf(opt), betas: opt.paramGroups.map((g) => [...g.betas]), epoch: sched.lastEpoch }).toEqual(before);
    },
  );

  const plateau = (name: string) => recording.cases.find((c) => c.name === name)!;

  it('ReduceLROnPlateau with one minLr: where PyTorch raises an IndexError, reduces the added group like the others', () => {
    const c = plateau('reduce_on_plateau_scalar_min_lr');
    expect(c.error?.type).toBe('IndexError');
    const { opt, failing } = replay(c);
    const before = lrsOf(opt);
    failing!();
    const { factor, min_lr: minLr } = c.kwargs as { factor: number; min_lr: number };
    expect(lrsOf(opt)).toEqual(before.map((lr) => Math.max(lr * factor, minLr)));
  });

  it('ReduceLROnPlateau with one minLr per group: where PyTorch raises, a coded error naming the group, and nothing changed', () => {
    const c = plateau('reduce_on_plateau_per_group_min_lr');
    expect(c.error?.type).toBe('IndexError');
    const { opt, sched, failing } = replay(c);
    const before = { lrs: lrsOf(opt), state: sched.stateDict() };
    expect(failing).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_OPTION', message: expect.stringMatching(/paramGroups\[2\]/) }));
    expect({ lrs: lrsOf(opt), state: sched.stateDict() }).toEqual(before);
    // With a bound for the new group the same step goes through, as it would have in PyTorch
    // without the added group.
    (sched as ReduceLROnPlateau).minLrs.push(0);
    sched.step(c.metrics![c.error!.step - 1]!);
    expect(lrsOf(opt)[2]).toBe(before.lrs[2]! * (c.kwargs.factor as number));
  });

  it('a scheduler state dict saved after a group was added loads into a scheduler built over every group', () => {
    const c = recording.cases.find((k) => k.name === 'step_lr')!;
    const { opt, sched } = replay({ ...c, steps: c.add_at + 2 });
    const saved = JSON.parse(JSON.stringify(sched.stateDict())) as Record<string, unknown>;
    expect((saved.base_lrs as number[]).length).toBe(c.base_lrs.length);
    const resumed = new StepLR(opt, { stepSize: 7, gamma: 0.5 });
    resumed.loadStateDict(saved);
    expect(resumed.baseLrs).toEqual(saved.base_lrs);
  });
});

describe('the warning when scheduler.step() comes before optimizer.step()', () => {
  afterEach(() => vi.restoreAllMocks());

  const classes = Object.entries(recording.warnings);
  it.each(classes)('%s warns as PyTorch does, at most once per optimizer', (name, counts) => {
    const spec = recording.cases.find((c) => c.scheduler === name)!;
    const count = (optimizerFirst: boolean) => {
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      const opt = optimizer(spec.base_lrs);
      const sched = build(opt, name, spec.kwargs);
      if (optimizerFirst) opt.step();
      sched.step();
      opt.step();
      sched.step();
      const calls = warn.mock.calls.filter(([, o]) => (o as { code?: string } | undefined)?.code === 'SIMD_ADAM_SCHEDULER_ORDER');
      warn.mockRestore();
      return calls.length;
    };
    // PyTorch shows a warning once per place in the code: a chain of schedulers warns once.
    expect(count(false)).toBe(Math.min(1, counts.scheduler_first));
    expect(count(true)).toBe(Math.min(1, counts.optimizer_first));
  });
});

// ---------------------------------------------------------------------------------------------
// clipGradNorm in float32

interface ClipCorner {
  name: string;
  max_norm: number;
  norm_type: number | 'inf';
  grads: Array<Array<number | string> | null>;
  total_norm: number | string;
  clipped: Array<Array<number | string> | null>;
  error_if_nonfinite_raises: boolean;
}

const clipCorners = loadRecorded<ClipCorner[]>('clip_grad_norm_corners.json');
const initial = backend();
afterAll(() => setBackend(initial));

function sameFloat(ours: number, ref: number): boolean {
  if (!Number.isFinite(ref)) return Object.is(ours, ref) || (Number.isNaN(ours) && Number.isNaN(ref));
  return Math.abs(ours - ref) <= 1e-5 * Math.abs(ref);
}

function paramsOf(c: ClipCorner): Parameter[] {
  return c.grads.map((g, i) => {
    const p = new Parameter(new Float32Array(g ? g.length : 3), { name: `p${i}` });
    p.grad = g ? Float32Array.from(g, recordedNumber) : null;
    return p;
  });
}

describe.each(availableBackends())('clipGradNorm on the %s backend, where float32 decides', (name) => {
  it.each(clipCorners.map((c) => [c.name, c] as const))('%s: the total norm and grads PyTorch 1.13 gives', (_, c) => {
    setBackend(name);
    const params = paramsOf(c);
    const total = clipGradNorm(params, c.max_norm, { normType: c.norm_type });
    const ref = recordedNumber(c.total_norm);
    expect(sameFloat(total, ref), `total ${total}, PyTorch ${ref}`).toBe(true);
    params.forEach((p, i) => {
      const want = c.clipped[i];
      if (!want) return void expect(p.grad).toBeNull();
      p.grad!.forEach((x, j) => expect(sameFloat(x, recordedNumber(want[j]!)), `grad ${i}[${j}]: ${x}, PyTorch ${want[j]}`).toBe(true));
    });
  });

  it.each(clipCorners.map((c) => [c.name, c] as const))('%s: errorIfNonfinite throws exactly where PyTorch raises, changing nothing', (_, c) => {
    setBackend(name);
    const params = paramsOf(c);
    const before = params.map((p) => p.grad?.slice() ?? null);
    const run = () => clipGradNorm(params, c.max_norm, { normType: c.norm_type, errorIfNonfinite: true });
    if (c.error_if_nonfinite_raises) {
      expect(run).toThrow(expect.objectContaining({ code: 'ERR_NON_FINITE' }));
      expect(params.map((p) => p.grad)).toEqual(before);
    } else {
      expect(sameFloat(run(), recordedNumber(c.total_norm))).toBe(true);
    }
  });
});
