import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConstantLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  PolynomialLR,
  ReduceLROnPlateau,
  SequentialLR,
  StepLR,
  type LrLambda,
  type SchedulableOptimizer,
} from '../src/lr_scheduler/index.js';

// ---------------------------------------------------------------------------------------------
// The PyTorch fixture and how to replay it

interface FixtureCase {
  name: string;
  description: string;
  scheduler: string;
  kwargs: Record<string, unknown>;
  base_lrs: number[];
  steps: number;
  lrs: number[][];
  metrics?: number[];
}

const fixturePath = fileURLToPath(new URL('./fixtures/pytorch/toolkit/lr_schedulers.json', import.meta.url));
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as FixtureCase[];
const caseNamed = (name: string): FixtureCase => {
  const found = fixture.find((c) => c.name === name);
  if (!found) throw new Error(`fixture has no case ${name}`);
  return found;
};

interface Group {
  lr: number;
  betas: readonly [number, number];
  [key: string]: unknown;
}
interface FakeOptimizer extends SchedulableOptimizer {
  paramGroups: Group[];
}
type AnyScheduler = LRScheduler | ReduceLROnPlateau;
type Ctor = new (optimizer: SchedulableOptimizer, options: Record<string, unknown>) => AnyScheduler;

const CLASSES: Record<string, Ctor> = {
  LambdaLR: LambdaLR as unknown as Ctor,
  StepLR: StepLR as unknown as Ctor,
  MultiStepLR: MultiStepLR as unknown as Ctor,
  ConstantLR: ConstantLR as unknown as Ctor,
  LinearLR: LinearLR as unknown as Ctor,
  ExponentialLR: ExponentialLR as unknown as Ctor,
  PolynomialLR: PolynomialLR as unknown as Ctor,
  CosineAnnealingLR: CosineAnnealingLR as unknown as Ctor,
  CosineAnnealingWarmRestarts: CosineAnnealingWarmRestarts as unknown as Ctor,
  OneCycleLR: OneCycleLR as unknown as Ctor,
  SequentialLR: SequentialLR as unknown as Ctor,
  ReduceLROnPlateau: ReduceLROnPlateau as unknown as Ctor,
};

/** PyTorch's keyword to ours: T_max -> tMax, eta_min -> etaMin, T_0 -> t0. */
function camelCase(key: string): string {
  const [first = '', ...rest] = key.split('_');
  return first.toLowerCase() + rest.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function makeOptimizer(baseLrs: readonly number[]): FakeOptimizer {
  return { paramGroups: baseLrs.map((lr) => ({ lr, betas: [0.9, 0.999] as const })) };
}

/** A fixture case's kwargs as our options, SequentialLR's children built first as in PyTorch.
 * `keepSpelling` leaves one key as PyTorch spells it. */
function toOptions(optimizer: FakeOptimizer, kwargs: Record<string, unknown>, keepSpelling?: string): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(kwargs)) {
    options[key === keepSpelling ? key : camelCase(key)] =
      key === 'schedulers'
        ? (value as Array<{ scheduler: string; kwargs: Record<string, unknown> }>).map((child) =>
            build(optimizer, child.scheduler, child.kwargs),
          )
        : value;
  }
  return options;
}

function build(optimizer: FakeOptimizer, scheduler: string, kwargs: Record<string, unknown>, keepSpelling?: string): AnyScheduler {
  const ctor = CLASSES[scheduler];
  if (!ctor) throw new Error(`no scheduler class ${scheduler}`);
  return new ctor(optimizer, toOptions(optimizer, kwargs, keepSpelling));
}

/** A schedule to replay: a fixture case, or a LambdaLR written to reproduce one. */
interface Run {
  name: string;
  baseLrs: number[];
  steps: number;
  expected: number[][];
  metrics?: number[];
  build(optimizer: FakeOptimizer): AnyScheduler;
}

const fixtureRuns: Run[] = fixture.map((c) => ({
  name: c.name,
  baseLrs: c.base_lrs,
  steps: c.steps,
  expected: c.lrs,
  ...(c.metrics ? { metrics: c.metrics } : {}),
  build: (optimizer) => build(optimizer, c.scheduler, c.kwargs),
}));

/** LambdaLR has no case of its own: each lambda below is the closed form of a fixture case,
 * built from that case's kwargs. */
function lambdaRun(source: string, lambdaFor: (kwargs: Record<string, unknown>) => LrLambda, perGroup: boolean): Run {
  const c = caseNamed(source);
  return {
    name: `LambdaLR as ${source}${perGroup ? ' (one lambda per group)' : ''}`,
    baseLrs: c.base_lrs,
    steps: c.steps,
    expected: c.lrs,
    build: (optimizer) =>
      new LambdaLR(optimizer, {
        lrLambda: perGroup ? c.base_lrs.map(() => lambdaFor(c.kwargs)) : lambdaFor(c.kwargs),
      }),
  };
}

const lambdaRuns: Run[] = [
  lambdaRun('step_lr', (k) => (e) => (k.gamma as number) ** Math.floor(e / (k.step_size as number)), false),
  lambdaRun('step_lr', (k) => (e) => (k.gamma as number) ** Math.floor(e / (k.step_size as number)), true),
  lambdaRun('exponential_lr', (k) => (e) => (k.gamma as number) ** e, false),
  lambdaRun('multistep_lr', (k) => (e) => (k.gamma as number) ** (k.milestones as number[]).filter((m) => m <= e).length, false),
  lambdaRun('polynomial_lr', (k) => (e) => {
    const total = k.total_iters as number;
    return (1 - Math.min(total, e) / total) ** (k.power as number);
  }, false),
];

const allRuns = [...fixtureRuns, ...lambdaRuns];

const lrsOf = (optimizer: FakeOptimizer): number[] => optimizer.paramGroups.map((g) => g.lr);

function advance(scheduler: AnyScheduler, run: Run, i: number): void {
  if (scheduler instanceof ReduceLROnPlateau) scheduler.step(run.metrics![i - 1]!);
  else scheduler.step();
}

function expectClose(actual: readonly number[], expected: readonly number[], where: string): void {
  expect(actual.length, where).toBe(expected.length);
  actual.forEach((value, g) => {
    const ref = expected[g]!;
    const err = Math.abs(value - ref);
    if (!(err <= 1e-15 + 1e-12 * Math.abs(ref))) {
      expect.fail(`${where}, group ${g}: got ${value}, PyTorch ${ref} (|diff| ${err})`);
    }
  });
}

/** Replays a run from construction; returns the lrs seen after construction and each step. */
function replay(run: Run): number[][] {
  const optimizer = makeOptimizer(run.baseLrs);
  const scheduler = run.build(optimizer);
  const seen = [lrsOf(optimizer)];
  for (let i = 1; i <= run.steps; i++) {
    advance(scheduler, run, i);
    seen.push(lrsOf(optimizer));
    expect(scheduler.getLastLr()).toEqual(lrsOf(optimizer));
  }
  return seen;
}

// ---------------------------------------------------------------------------------------------

describe('PyTorch conformance (fixtures/pytorch/toolkit/lr_schedulers.json)', () => {
  it('covers every scheduler class but LambdaLR, which is checked through equivalent lambdas', () => {
    const covered = new Set(fixture.map((c) => c.scheduler));
    for (const c of fixture) {
      for (const child of (c.kwargs.schedulers as Array<{ scheduler: string }> | undefined) ?? []) covered.add(child.scheduler);
    }
    expect([...covered].sort()).toEqual(Object.keys(CLASSES).filter((n) => n !== 'LambdaLR').sort());
  });

  it.each(allRuns.map((run) => [run.name, run] as const))('%s matches every lr at every step', (_name, run) => {
    const seen = replay(run);
    expect(seen.length).toBe(run.expected.length);
    seen.forEach((lrs, i) => expectClose(lrs, run.expected[i]!, `${run.name}, lrs[${i}]`));
  });
});

describe('options', () => {
  const snakeKeyed = fixture.flatMap((c) =>
    Object.keys(c.kwargs)
      .filter((key) => camelCase(key) !== key)
      .map((key) => [`${c.scheduler} ${key}`, c, key] as const),
  );

  it.each(snakeKeyed)('PyTorch spelling %s is rejected with the camelCase name suggested', (_label, c, snakeKey) => {
    // The other options are spelt right; only this one keeps PyTorch's spelling.
    const error = catchError(() => build(makeOptimizer(c.base_lrs), c.scheduler, c.kwargs, snakeKey));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
    expect((error as Error).message).toContain(`did you mean ${camelCase(snakeKey)}?`);
  });

  it('an unknown option name suggests the right one', () => {
    const error = catchError(() => new StepLR(makeOptimizer([0.1]), { step_size: 3 } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
    expect((error as Error).message).toMatch(/unknown option 'step_size'.*did you mean stepSize\?/);
  });

  const badValues: Array<[string, () => unknown, string, string]> = [
    ['StepLR negative stepSize', () => new StepLR(makeOptimizer([0.1]), { stepSize: -3 }), 'stepSize', '-3'],
    ['StepLR zero stepSize', () => new StepLR(makeOptimizer([0.1]), { stepSize: 0 }), 'stepSize', '0'],
    ['StepLR fractional stepSize', () => new StepLR(makeOptimizer([0.1]), { stepSize: 2.5 }), 'stepSize', '2.5'],
    ['ExponentialLR negative gamma', () => new ExponentialLR(makeOptimizer([0.1]), { gamma: -0.5 }), 'gamma', '-0.5'],
    ['MultiStepLR negative milestone', () => new MultiStepLR(makeOptimizer([0.1]), { milestones: [3, -1] }), 'milestones[1]', '-1'],
    ['ConstantLR factor above 1', () => new ConstantLR(makeOptimizer([0.1]), { factor: 1.5 }), 'factor', '1.5'],
    ['LinearLR startFactor 0', () => new LinearLR(makeOptimizer([0.1]), { startFactor: 0 }), 'startFactor', '0'],
    ['LinearLR endFactor above 1', () => new LinearLR(makeOptimizer([0.1]), { endFactor: 2 }), 'endFactor', '2'],
    ['PolynomialLR totalIters 0', () => new PolynomialLR(makeOptimizer([0.1]), { totalIters: 0 }), 'totalIters', '0'],
    ['CosineAnnealingLR tMax 0', () => new CosineAnnealingLR(makeOptimizer([0.1]), { tMax: 0 }), 'tMax', '0'],
    ['CosineAnnealingWarmRestarts t0 0', () => new CosineAnnealingWarmRestarts(makeOptimizer([0.1]), { t0: 0 }), 't0', '0'],
    ['CosineAnnealingWarmRestarts tMult 0', () => new CosineAnnealingWarmRestarts(makeOptimizer([0.1]), { t0: 5, tMult: 0 }), 'tMult', '0'],
    ['OneCycleLR totalSteps 0', () => new OneCycleLR(makeOptimizer([0.1]), { maxLr: 1, totalSteps: 0 }), 'totalSteps', '0'],
    ['OneCycleLR pctStart above 1', () => new OneCycleLR(makeOptimizer([0.1]), { maxLr: 1, totalSteps: 10, pctStart: 1.5 }), 'pctStart', '1.5'],
    ['OneCycleLR unknown annealStrategy', () => new OneCycleLR(makeOptimizer([0.1]), { maxLr: 1, totalSteps: 10, annealStrategy: 'cosine' as 'cos' }), 'annealStrategy', 'cosine'],
    ['OneCycleLR maxLr list of the wrong length', () => new OneCycleLR(makeOptimizer([0.1, 0.2]), { maxLr: [1], totalSteps: 10 }), 'maxLr', 'length 1'],
    ['OneCycleLR maxMomentum 1', () => new OneCycleLR(makeOptimizer([0.1]), { maxLr: 1, totalSteps: 10, maxMomentum: 1 }), 'maxMomentum', '1'],
    ['ReduceLROnPlateau factor 1', () => new ReduceLROnPlateau(makeOptimizer([0.1]), { factor: 1 }), 'factor', '1'],
    ['ReduceLROnPlateau unknown mode', () => new ReduceLROnPlateau(makeOptimizer([0.1]), { mode: 'minimum' as 'min' }), 'mode', 'minimum'],
    ['ReduceLROnPlateau unknown thresholdMode', () => new ReduceLROnPlateau(makeOptimizer([0.1]), { thresholdMode: 'relative' as 'rel' }), 'thresholdMode', 'relative'],
    ['ReduceLROnPlateau negative patience', () => new ReduceLROnPlateau(makeOptimizer([0.1]), { patience: -1 }), 'patience', '-1'],
    ['LambdaLR one lambda for two groups as a list', () => new LambdaLR(makeOptimizer([0.1, 0.2]), { lrLambda: [() => 1] }), 'lrLambda', 'length 1'],
    ['lastEpoch below -1', () => new StepLR(makeOptimizer([0.1]), { stepSize: 3, lastEpoch: -2 }), 'lastEpoch', '-2'],
  ];

  it.each(badValues)('%s is a RangeError naming the option, the rule and the value', (_label, make, option, received) => {
    const error = catchError(make);
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
    const message = (error as Error).message;
    expect(message).toContain(option);
    expect(message).toMatch(/must|expected/);
    expect(message).toContain(received);
  });

  const badTypes: Array<[string, () => unknown, string]> = [
    ['StepLR stepSize as a string', () => new StepLR(makeOptimizer([0.1]), { stepSize: '7' as unknown as number }), 'stepSize'],
    ['StepLR without stepSize', () => new StepLR(makeOptimizer([0.1]), {} as never), 'stepSize'],
    ['OneCycleLR cycleMomentum as a string', () => new OneCycleLR(makeOptimizer([0.1]), { maxLr: 1, totalSteps: 10, cycleMomentum: 'yes' as unknown as boolean }), 'cycleMomentum'],
    ['OneCycleLR without any length', () => new OneCycleLR(makeOptimizer([0.1]), { maxLr: 1 }), 'totalSteps'],
    ['LambdaLR lrLambda as a number', () => new LambdaLR(makeOptimizer([0.1]), { lrLambda: 3 as unknown as LrLambda }), 'lrLambda'],
    ['options as an array', () => new ExponentialLR(makeOptimizer([0.1]), [] as never), 'options'],
    ['an optimizer without paramGroups', () => new ExponentialLR({} as SchedulableOptimizer, { gamma: 0.9 }), 'paramGroups'],
  ];

  it.each(badTypes)('%s is a TypeError with code ERR_OPTION', (_label, make, mentioned) => {
    const error = catchError(make);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
    expect((error as Error).message).toContain(mentioned);
  });

  it('a failed construction leaves the optimizer untouched', () => {
    const optimizer = makeOptimizer([0.1, 0.01]);
    const before = structuredClone(optimizer.paramGroups);
    catchError(() => new OneCycleLR(optimizer, { maxLr: [1, 2], totalSteps: 10, divFactor: 0 }));
    expect(optimizer.paramGroups).toEqual(before);
  });

  it('resuming with lastEpoch needs initialLr on every group', () => {
    const error = catchError(() => new StepLR(makeOptimizer([0.1]), { stepSize: 3, lastEpoch: 4 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
    expect((error as Error).message).toContain('initialLr');
  });

  it('a LambdaLR lambda that returns a non-number is a TypeError', () => {
    const error = catchError(() => new LambdaLR(makeOptimizer([0.1]), { lrLambda: (() => '1') as unknown as LrLambda }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
  });

  it('SequentialLR rejects schedulers built on another optimizer and a wrong number of milestones', () => {
    const c = caseNamed('sequential_warmup_cosine');
    const optimizer = makeOptimizer(c.base_lrs);
    const other = makeOptimizer(c.base_lrs);
    const warmup = new LinearLR(optimizer, { totalIters: 5 });
    const foreign = new CosineAnnealingLR(other, { tMax: 25 });
    expect(catchError(() => new SequentialLR(optimizer, { schedulers: [warmup, foreign], milestones: [5] }))).toMatchObject({
      name: 'RangeError',
      code: 'ERR_OPTION',
    });
    const cosine = new CosineAnnealingLR(optimizer, { tMax: 25 });
    expect(catchError(() => new SequentialLR(optimizer, { schedulers: [warmup, cosine], milestones: [5, 9] }))).toMatchObject({
      name: 'RangeError',
      code: 'ERR_OPTION',
    });
  });
});

describe('stateDict / loadStateDict', () => {
  it.each(allRuns.map((run) => [run.name, run] as const))(
    '%s: a JSON round trip in the middle resumes identically',
    (_name, run) => {
      const k = Math.floor(run.steps / 2);
      const optimizer = makeOptimizer(run.baseLrs);
      const scheduler = run.build(optimizer);
      for (let i = 1; i <= k; i++) advance(scheduler, run, i);
      const saved = scheduler.stateDict();
      expect(saved).toHaveProperty('last_epoch');
      expect(saved).toHaveProperty('_last_lr');
      const json = JSON.parse(JSON.stringify(saved)) as Record<string, unknown>;
      const savedGroups = structuredClone(optimizer.paramGroups);

      // As a training script resumes: build everything afresh, then load the optimizer's state
      // (here: its groups) and the scheduler's.
      const resumedOptimizer = makeOptimizer(run.baseLrs);
      const resumed = run.build(resumedOptimizer);
      resumedOptimizer.paramGroups.forEach((group, g) => Object.assign(group, structuredClone(savedGroups[g])));
      resumed.loadStateDict(json);
      expect(resumed.getLastLr()).toEqual(scheduler.getLastLr());

      for (let i = k + 1; i <= run.steps; i++) {
        advance(scheduler, run, i);
        advance(resumed, run, i);
        expect(lrsOf(resumedOptimizer)).toEqual(lrsOf(optimizer));
        expect(resumedOptimizer.paramGroups.map((g) => g.betas)).toEqual(optimizer.paramGroups.map((g) => g.betas));
        expectClose(lrsOf(resumedOptimizer), run.expected[i]!, `${run.name} resumed, lrs[${i}]`);
      }
      expect(JSON.parse(JSON.stringify(resumed.stateDict()))).toEqual(JSON.parse(JSON.stringify(scheduler.stateDict())));
    },
  );

  it('uses PyTorch key names', () => {
    const c = caseNamed('cosine_warm_restarts');
    const scheduler = build(makeOptimizer(c.base_lrs), c.scheduler, c.kwargs);
    expect(Object.keys(scheduler.stateDict()).sort()).toEqual(
      ['T_0', 'T_i', 'T_mult', 'eta_min', 'T_cur', 'base_lrs', 'last_epoch', 'verbose', '_step_count', '_get_lr_called_within_step', '_last_lr'].sort(),
    );
  });

  it('rejects an invalid value or an unknown key and changes nothing', () => {
    const c = caseNamed('step_lr');
    const scheduler = build(makeOptimizer(c.base_lrs), c.scheduler, c.kwargs) as StepLR;
    scheduler.step();
    const before = scheduler.stateDict();
    const bad = catchError(() => scheduler.loadStateDict({ ...before, last_epoch: 20, step_size: -1 }));
    expect(bad).toBeInstanceOf(RangeError);
    expect(bad).toMatchObject({ code: 'ERR_STATE_DICT' });
    expect((bad as Error).message).toContain('step_size');
    const unknown = catchError(() => scheduler.loadStateDict({ ...before, last_epoch: 20, T_max: 10 }));
    expect(unknown).toBeInstanceOf(TypeError);
    expect(unknown).toMatchObject({ code: 'ERR_STATE_DICT' });
    expect(scheduler.stateDict()).toEqual(before);
  });

  it('SequentialLR validates every wrapped state dict before loading any', () => {
    const c = caseNamed('sequential_warmup_cosine');
    const scheduler = build(makeOptimizer(c.base_lrs), c.scheduler, c.kwargs) as SequentialLR;
    for (let i = 0; i < 7; i++) scheduler.step();
    const before = scheduler.stateDict();
    const children = before._schedulers as Array<Record<string, unknown>>;
    const corrupt = { ...before, _schedulers: [{ ...children[0], last_epoch: 0 }, { ...children[1], T_max: -1 }] };
    expect(catchError(() => scheduler.loadStateDict(corrupt))).toMatchObject({ code: 'ERR_STATE_DICT' });
    expect(scheduler.stateDict()).toEqual(before);
  });
});

describe('OneCycleLR momentum', () => {
  const c = caseNamed('one_cycle_lr');
  // The fixture case turns momentum cycling off; the lr schedule must not depend on it.
  const { cycle_momentum: _off, ...kwargs } = c.kwargs;
  const momentum = { maxMomentum: 0.95, baseMomentum: 0.85 };

  it('cycles betas[0] inversely to the lr and keeps betas[1]', () => {
    const optimizer = makeOptimizer(c.base_lrs);
    const scheduler = new OneCycleLR(optimizer, {
      ...(Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [camelCase(k), v])) as { maxLr: number }),
      ...momentum,
    });
    const group = optimizer.paramGroups[0]!;
    expect(group).toMatchObject({ maxMomentum: momentum.maxMomentum, baseMomentum: momentum.baseMomentum });
    const { initialLr, maxLr, minLr } = group as unknown as Record<string, number>;
    // Steps up to pctStart * totalSteps - 1 raise the lr; the rest lower it.
    const riseEnd = (c.kwargs.pct_start as number) * (c.kwargs.total_steps as number) - 1;
    for (let i = 0; i <= c.steps; i++) {
      if (i > 0) {
        const previous = group.betas;
        scheduler.step();
        expect(group.betas).not.toBe(previous); // replaced, never mutated in place
      }
      expectClose([group.lr], c.lrs[i]!, `lrs[${i}]`);
      // Both follow the same anneal: betas[0] sits where the lr sits, mirrored.
      const lr = c.lrs[i]![0]!;
      const rising = i <= riseEnd;
      const fraction = rising ? (lr - initialLr!) / (maxLr! - initialLr!) : (maxLr! - lr) / (maxLr! - minLr!);
      const expected = rising
        ? momentum.maxMomentum + (momentum.baseMomentum - momentum.maxMomentum) * fraction
        : momentum.baseMomentum + (momentum.maxMomentum - momentum.baseMomentum) * fraction;
      expect(Math.abs(group.betas[0] - expected)).toBeLessThan(1e-9);
      expect(group.betas[1]).toBe(0.999);
    }
  });

  it('leaves betas alone when cycleMomentum is false', () => {
    const optimizer = makeOptimizer(c.base_lrs);
    const betas = optimizer.paramGroups[0]!.betas;
    const scheduler = build(optimizer, c.scheduler, c.kwargs) as OneCycleLR;
    expect(c.kwargs.cycle_momentum).toBe(false);
    for (let i = 1; i <= c.steps; i++) {
      scheduler.step();
      expect(optimizer.paramGroups[0]!.betas).toBe(betas);
    }
    expect(betas).toEqual([0.9, 0.999]);
    expect(optimizer.paramGroups[0]).not.toHaveProperty('maxMomentum');
  });

  it('refuses to step past totalSteps and changes nothing', () => {
    const optimizer = makeOptimizer(c.base_lrs);
    const scheduler = build(optimizer, c.scheduler, c.kwargs) as OneCycleLR;
    for (let i = 0; i < scheduler.totalSteps; i++) scheduler.step();
    const before = scheduler.stateDict();
    const lr = optimizer.paramGroups[0]!.lr;
    const error = catchError(() => scheduler.step());
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_OPTION' });
    expect((error as Error).message).toContain('totalSteps');
    expect(optimizer.paramGroups[0]!.lr).toBe(lr);
    expect(scheduler.stateDict()).toEqual(before);
  });
});

describe('ReduceLROnPlateau modes', () => {
  const c = caseNamed('reduce_on_plateau');
  const options = Object.fromEntries(Object.entries(c.kwargs).map(([k, v]) => [camelCase(k), v]));

  function lrsFor(extra: Record<string, unknown>, metrics: readonly number[]): number[] {
    const optimizer = makeOptimizer(c.base_lrs);
    const scheduler = new ReduceLROnPlateau(optimizer, { ...options, ...extra });
    return metrics.map((m) => {
      scheduler.step(m);
      return optimizer.paramGroups[0]!.lr;
    });
  }

  it("'max' mode on the negated metric reduces exactly when 'min' mode does (absolute threshold)", () => {
    const negated = c.metrics!.map((m) => -m);
    const min = lrsFor({ mode: 'min', thresholdMode: 'abs' }, c.metrics!);
    expect(lrsFor({ mode: 'max', thresholdMode: 'abs' }, negated)).toEqual(min);
    expect(min.some((lr, i) => lr !== c.base_lrs[0] && i > 0)).toBe(true);
  });

  it("'max' mode never reduces while the metric keeps improving, and does on a plateau", () => {
    const rising = c.metrics!.map((_, i) => i + 1);
    expect(lrsFor({ mode: 'max' }, rising).every((lr) => lr === c.base_lrs[0])).toBe(true);
    const patience = options.patience as number;
    const flat = new Array<number>(patience + 2).fill(c.metrics![0]!);
    const lrs = lrsFor({ mode: 'max' }, flat);
    // The first metric sets `best`; the next patience + 1 are bad epochs, the last one reduces.
    expect(lrs.slice(0, -1).every((lr) => lr === c.base_lrs[0])).toBe(true);
    expect(lrs.at(-1)).toBe(Math.max(c.base_lrs[0]! * (options.factor as number), options.minLr as number));
  });

  it("'min' mode counts an improvement only beyond the relative threshold", () => {
    const threshold = 0.1;
    const tiny = c.metrics!.map((_, i) => 1 - i * 1e-3); // improves, but by less than 10%
    const lrs = lrsFor({ mode: 'min', threshold, cooldown: 0 }, tiny);
    expect(lrs.some((lr) => lr < c.base_lrs[0]!)).toBe(true);
    const clear = c.metrics!.map((_, i) => 0.5 ** i); // halves every epoch
    expect(lrsFor({ mode: 'min', threshold, cooldown: 0 }, clear).every((lr) => lr === c.base_lrs[0])).toBe(true);
  });

  it('never goes below minLr', () => {
    const flat = new Array<number>(200).fill(1);
    const lrs = lrsFor({}, flat);
    expect(Math.min(...lrs)).toBe(options.minLr);
  });

  it('round-trips an infinite best through JSON', () => {
    const optimizer = makeOptimizer(c.base_lrs);
    const scheduler = new ReduceLROnPlateau(optimizer, options);
    const json = JSON.parse(JSON.stringify(scheduler.stateDict())) as Record<string, unknown>;
    expect(json.best).toBeNull();
    const resumed = new ReduceLROnPlateau(makeOptimizer(c.base_lrs), options);
    resumed.loadStateDict(json);
    expect(resumed.best).toBe(Infinity);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, none was thrown');
}
