/**
 * Bad input to every public entry point other than step() and the constructors (those have their
 * tables in errors.test.ts): the documented class and code, and nothing changed — parameters,
 * gradients, optimizer state and param groups compared against copies taken before the call.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  Adam,
  AdamW,
  clipGradNorm,
  ConstantLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  Parameter,
  PolynomialLR,
  readStateDict,
  ReduceLROnPlateau,
  SequentialLR,
  SimdAdamError,
  StepLR,
  writeStateDict,
  type StateDictInput,
} from '../src/index.js';
import { detach, TRANSFERS, type Transfer } from './support/detach.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';

type ErrorClass = typeof TypeError | typeof RangeError | typeof SimdAdamError;

const work = mkdtempSync(join(tmpdir(), 'simd-adam-bad-inputs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Two groups, three named params, stepped once (state exists), with fresh grads assigned. */
function trained() {
  const params = [6, 9, 4].map((n, i) => new Parameter(fillValues(new Float32Array(n), rng(i + 11)), { name: `p${i}` }));
  const opt = new AdamW([{ params: [params[0]!, params[1]!] }, { params: [params[2]!], lr: 0.05 }], { lr: 0.01 });
  const regrad = () => params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(70 + i))));
  regrad();
  opt.step();
  regrad();
  return { opt, params };
}

/** Runs `call`, which must fail as described, and checks that nothing changed. Awaits it, so a
 * rejected promise counts the same as a throw. */
async function expectRefused(
  ctx: { opt: Adam; params: Parameter[] },
  call: () => unknown,
  error: ErrorClass,
  code: string,
  message: RegExp,
): Promise<void> {
  const before = snapshot(ctx.opt, ctx.params);
  let caught: unknown;
  try {
    await call();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(error);
  expect(caught).toMatchObject({ code });
  expect((caught as Error).message).toMatch(message);
  expectUnchanged(ctx.opt, ctx.params, before);
  expect(snapshot(ctx.opt, ctx.params).groups, 'param groups').toBe(before.groups);
}

interface Row {
  name: string;
  call: (ctx: ReturnType<typeof trained>) => unknown;
  error: ErrorClass;
  code: string;
  message: RegExp;
}

function table(title: string, rows: Row[]): void {
  describe(title, () => {
    it.each(rows)('$name → $code, nothing changed', async ({ call, error, code, message }) => {
      const ctx = trained();
      await expectRefused(ctx, () => call(ctx), error, code, message);
    });
  });
}

describe('new Parameter() over a detached buffer', () => {
  it.each(TRANSFERS)('detached by %s → ERR_DETACHED', (how) => {
    const data = new Float32Array(8);
    detach(data.buffer, how);
    expect(() => new Parameter(data, { name: 'w' })).toThrow(
      expect.objectContaining({ name: 'SimdAdamError', code: 'ERR_DETACHED', message: expect.stringMatching(/data's buffer was detached/) }),
    );
  });

  it('an empty Float32Array that was never transferred is still a valid 0-element parameter', () => {
    expect(new Parameter(new Float32Array(0)).numel).toBe(0);
    expect(new Parameter(new Float32Array(new ArrayBuffer(8), 8, 0)).numel).toBe(0);
  });
});

table('zeroGrad() with bad options', [
  { name: 'a string', call: ({ opt }) => opt.zeroGrad('all' as never), error: TypeError, code: 'ERR_OPTION', message: /expected an options object, got the string "all"/ },
  { name: 'null', call: ({ opt }) => opt.zeroGrad(null as never), error: TypeError, code: 'ERR_OPTION', message: /got null/ },
  { name: 'setToNone as a string', call: ({ opt }) => opt.zeroGrad({ setToNone: 'false' as never }), error: TypeError, code: 'ERR_OPTION', message: /setToNone must be a boolean, got the string "false"/ },
]);

table('addParamGroup() with a bad group', [
  { name: 'undefined', call: ({ opt }) => opt.addParamGroup(undefined as never), error: TypeError, code: 'ERR_PARAM_GROUP', message: /expected a param group \{ params, \.\.\.options \}, got undefined/ },
  { name: 'a bare Parameter', call: ({ opt }) => opt.addParamGroup(new Parameter(new Float32Array(2)) as never), error: TypeError, code: 'ERR_PARAM_GROUP', message: /got a Parameter/ },
  { name: 'params of a Float64Array', call: ({ opt }) => opt.addParamGroup({ params: [new Float64Array(2)] as never }), error: TypeError, code: 'ERR_PARAM_TYPE', message: /group 2: params\[0\] must be a Parameter, got a Float64Array/ },
  { name: 'an empty params list', call: ({ opt }) => opt.addParamGroup({ params: [] }), error: SimdAdamError, code: 'ERR_EMPTY_PARAMS', message: /empty/ },
  { name: 'the same new parameter twice', call: ({ opt }) => { const w = new Parameter(new Float32Array(2)); opt.addParamGroup({ params: [w, w] }); }, error: SimdAdamError, code: 'ERR_DUPLICATE_PARAM', message: /appears twice/ },
  { name: 'a new parameter over an existing one\'s memory', call: ({ opt, params }) => opt.addParamGroup({ params: [new Parameter(params[1]!.data.subarray(1, 3), { name: 'view' })] }), error: SimdAdamError, code: 'ERR_PARAM_ALIAS', message: /group 2, parameter 0 \('view'\) shares memory with group 0, parameter 1 .*must not overlap/ },
  { name: 'a NaN lr', call: ({ opt }) => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], lr: NaN }), error: RangeError, code: 'ERR_OPTION', message: /lr must be a finite number >= 0, got NaN/ },
  { name: 'beta1 out of range', call: ({ opt }) => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], betas: [1.5, 0.999] }), error: RangeError, code: 'ERR_OPTION', message: /betas\[0\]/ },
  { name: 'an infinite eps', call: ({ opt }) => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], eps: Infinity }), error: RangeError, code: 'ERR_OPTION', message: /eps .* got Infinity/ },
  { name: 'a PyTorch-spelled key', call: ({ opt }) => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], weight_decay: 0 } as never), error: TypeError, code: 'ERR_OPTION', message: /did you mean weightDecay\?/ },
]);

/** A state dict whose first exp_avg is a Float32Array detached by `how` (in the form `wrap` gives). */
function detachedStateDict(opt: Adam, how: Transfer, wrap: (t: Float32Array) => unknown): StateDictInput {
  const sd = opt.stateDict() as unknown as { state: Record<number, Record<string, unknown>> };
  const t = sd.state[0]!.exp_avg as Float32Array;
  sd.state[0]!.exp_avg = wrap(t);
  detach(t.buffer, how);
  return sd as unknown as StateDictInput;
}

table(
  'loadStateDict() with detached tensors',
  TRANSFERS.flatMap((how) => [
    { name: `a Float32Array detached by ${how}`, call: ({ opt }: ReturnType<typeof trained>) => opt.loadStateDict(detachedStateDict(opt, how, (t) => t)), error: SimdAdamError, code: 'ERR_STATE_DICT', message: /state\[0\] .*exp_avg is a Float32Array whose buffer was detached/ },
    { name: `{ shape, data } over a buffer detached by ${how}`, call: ({ opt }: ReturnType<typeof trained>) => opt.loadStateDict(detachedStateDict(opt, how, (data) => ({ shape: [6], data }))), error: SimdAdamError, code: 'ERR_STATE_DICT', message: /exp_avg is a Float32Array whose buffer was detached/ },
  ]),
);

describe('writeStateDict() with detached tensors', () => {
  it.each(TRANSFERS)('a state tensor detached by %s → ERR_STATE_DICT, no file written', async (how) => {
    const { opt } = trained();
    const path = join(work, `state-${how}.safetensors`);
    await expect(writeStateDict(path, detachedStateDict(opt, how, (t) => t))).rejects.toMatchObject({ code: 'ERR_STATE_DICT', message: expect.stringMatching(/detached/) });
    expect(readdirSync(work).filter((f) => f.includes(`state-${how}`))).toEqual([]);
  });

  it.each(TRANSFERS)('a parameter detached by %s → ERR_DETACHED, no file written', async (how) => {
    const { opt, params } = trained();
    const path = join(work, `param-${how}.safetensors`);
    const sd = opt.stateDict();
    detach(params[1]!.data.buffer, how);
    await expect(writeStateDict(path, sd, { params })).rejects.toMatchObject({ code: 'ERR_DETACHED', message: expect.stringMatching(/params\[1\] \('p1'\): its data's buffer was detached/) });
    expect(readdirSync(work).filter((f) => f.includes(`param-${how}`))).toEqual([]);
  });
});

describe('readStateDict() with a bad path', () => {
  it.each([
    { name: 'undefined', path: undefined, error: TypeError, message: /path must be a non-empty string, got undefined/ },
    { name: 'a number', path: 7, error: TypeError, message: /got 7/ },
    { name: 'an empty string', path: '', error: TypeError, message: /got the string ""/ },
    { name: 'a Buffer', path: Buffer.from('x.safetensors'), error: TypeError, message: /got a Buffer/ },
    { name: 'a directory', path: work, error: SimdAdamError, message: /could not read the file: EISDIR/ },
    { name: 'a path holding a NUL byte', path: join(work, 'a\0b'), error: SimdAdamError, message: /could not read the file/ },
  ])('$name → ERR_CHECKPOINT', async ({ path, error, message }) => {
    const caught = await readStateDict(path as never).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(error);
    expect(caught).toMatchObject({ code: 'ERR_CHECKPOINT' });
    expect((caught as Error).message).toMatch(message);
  });
});

describe('clipGradNorm() with grads that share memory', () => {
  function shared() {
    const memory = fillValues(new Float32Array(12), rng(3));
    const a = new Parameter(new Float32Array(8), { name: 'a' });
    const b = new Parameter(new Float32Array(8), { name: 'b' });
    const c = new Parameter(fillValues(new Float32Array(4), rng(4)), { name: 'c' });
    c.grad = fillValues(new Float32Array(4), rng(5));
    const opt = new Adam([a, b, c]);
    return { memory, a, b, c, opt, params: [a, b, c] };
  }

  it.each([
    {
      name: 'the same grad on two parameters',
      spoil: ({ memory, a, b }: ReturnType<typeof shared>) => (a.grad = b.grad = memory.subarray(0, 8)),
      message: /the grads of params\[0\] \('a'\) and params\[1\] \('b'\) share memory, which would be counted twice in the norm and scaled twice/,
    },
    {
      name: 'two grads that partly overlap',
      spoil: ({ memory, a, b }: ReturnType<typeof shared>) => ((a.grad = memory.subarray(0, 8)), (b.grad = memory.subarray(4, 12))),
      message: /the grads of params\[0\] \('a'\) and params\[1\] \('b'\) share memory/,
    },
    {
      name: "a grad inside another parameter's data",
      spoil: ({ a, b, c }: ReturnType<typeof shared>) => ((a.grad = new Float32Array(8)), (b.grad = null), (c.grad = a.data.subarray(2, 6))),
      message: /the grad of params\[2\] \('c'\) shares memory with the data of params\[0\] \('a'\)/,
    },
  ])('$name → ERR_GRAD_ALIAS, no grad changed', ({ spoil, message }) => {
    const ctx = shared();
    spoil(ctx);
    const before = snapshot(ctx.opt, ctx.params);
    expect(() => clipGradNorm(ctx.params, 1e-3)).toThrow(expect.objectContaining({ name: 'SimdAdamError', code: 'ERR_GRAD_ALIAS', message: expect.stringMatching(message) }));
    expectUnchanged(ctx.opt, ctx.params, before);
  });

  it.each(TRANSFERS)('a grad detached by %s → ERR_GRAD_LENGTH naming the cause, no grad changed', async (how) => {
    const ctx = trained();
    detach(ctx.params[2]!.grad!.buffer, how);
    await expectRefused(ctx, () => clipGradNorm(ctx.params, 1e-3), RangeError, 'ERR_GRAD_LENGTH', /params\[2\] \('p2'\): grad must have length 4 .*\(detached\?\)/);
  });

  it.each(TRANSFERS)('parameter data detached by %s → ERR_DETACHED, no grad changed', async (how) => {
    const ctx = trained();
    detach(ctx.params[0]!.data.buffer, how);
    await expectRefused(ctx, () => clipGradNorm(ctx.params, 1e-3), SimdAdamError, 'ERR_DETACHED', /params\[0\] \('p0'\): data has length 0/);
  });
});

type Make = (opt: Adam) => unknown;
const schedulerConstructors: Array<{ name: string; make: Make; error: ErrorClass; message: RegExp }> = [
  { name: 'StepLR with stepSize 0', make: (o) => new StepLR(o, { stepSize: 0 }), error: RangeError, message: /stepSize/ },
  { name: 'StepLR with a NaN gamma', make: (o) => new StepLR(o, { stepSize: 2, gamma: NaN }), error: RangeError, message: /gamma/ },
  { name: 'StepLR with a snake_case option', make: (o) => new StepLR(o, { step_size: 2 } as never), error: TypeError, message: /did you mean stepSize\?/ },
  { name: 'MultiStepLR with a string milestone', make: (o) => new MultiStepLR(o, { milestones: [2, '4'] as never }), error: TypeError, message: /milestones/ },
  { name: 'ExponentialLR with an infinite gamma', make: (o) => new ExponentialLR(o, { gamma: Infinity }), error: RangeError, message: /gamma/ },
  { name: 'CosineAnnealingLR with a negative tMax', make: (o) => new CosineAnnealingLR(o, { tMax: -1 }), error: RangeError, message: /tMax/ },
  { name: 'CosineAnnealingWarmRestarts with t0 = 0', make: (o) => new CosineAnnealingWarmRestarts(o, { t0: 0 }), error: RangeError, message: /t0/ },
  { name: 'LinearLR with startFactor 2', make: (o) => new LinearLR(o, { startFactor: 2 }), error: RangeError, message: /startFactor/ },
  { name: 'ConstantLR with a negative factor', make: (o) => new ConstantLR(o, { factor: -1 }), error: RangeError, message: /factor/ },
  { name: 'PolynomialLR with a NaN power', make: (o) => new PolynomialLR(o, { power: NaN }), error: RangeError, message: /power/ },
  { name: 'LambdaLR with a number for lrLambda', make: (o) => new LambdaLR(o, { lrLambda: 0.5 as never }), error: TypeError, message: /lrLambda/ },
  { name: 'OneCycleLR with a NaN maxLr', make: (o) => new OneCycleLR(o, { maxLr: NaN, totalSteps: 10 }), error: RangeError, message: /maxLr/ },
  { name: 'OneCycleLR with one maxLr too few', make: (o) => new OneCycleLR(o, { maxLr: [0.1], totalSteps: 10 }), error: RangeError, message: /maxLr/ },
  { name: 'OneCycleLR with totalSteps 0', make: (o) => new OneCycleLR(o, { maxLr: 0.1, totalSteps: 0 }), error: RangeError, message: /totalSteps/ },
  { name: 'a lastEpoch that resumes without initial lrs', make: (o) => new StepLR(o, { stepSize: 2, lastEpoch: 5 }), error: RangeError, message: /initialLr is missing/ },
  { name: 'SequentialLR with no schedulers', make: (o) => new SequentialLR(o, { schedulers: [], milestones: [] }), error: TypeError, message: /schedulers/ },
  { name: 'ReduceLROnPlateau with factor 1', make: (o) => new ReduceLROnPlateau(o, { factor: 1 }), error: RangeError, message: /factor/ },
  { name: "ReduceLROnPlateau with mode 'lowest'", make: (o) => new ReduceLROnPlateau(o, { mode: 'lowest' as never }), error: RangeError, message: /mode/ },
  { name: 'a scheduler over a plain object', make: () => new StepLR({} as never, { stepSize: 1 }), error: TypeError, message: /optimizer/ },
];

describe('LR scheduler constructors with bad options', () => {
  it.each(schedulerConstructors)('$name → a coded error, the optimizer untouched', async ({ make, error, message }) => {
    const ctx = trained();
    const before = snapshot(ctx.opt, ctx.params);
    let caught: unknown;
    try {
      make(ctx.opt);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(error);
    expect(typeof (caught as { code?: unknown }).code).toBe('string');
    expect((caught as Error).message).toMatch(message);
    expectUnchanged(ctx.opt, ctx.params, before);
    expect(snapshot(ctx.opt, ctx.params).groups, 'param groups (lr, initialLr)').toBe(before.groups);
  });
});

/** A scheduler built on the optimizer (which may set lrs and initial lrs), then a bad call on it. */
interface SchedulerCall {
  name: string;
  build: (opt: Adam) => { step(metric?: number): void; loadStateDict(sd: never): void; stateDict(): Record<string, unknown> };
  bad: (s: ReturnType<SchedulerCall['build']>) => void;
  error: ErrorClass;
  message: RegExp;
}

const schedulerCalls: SchedulerCall[] = [
  { name: 'ReduceLROnPlateau.step with a string metric', build: (o) => new ReduceLROnPlateau(o), bad: (s) => s.step('0.5' as never), error: TypeError, message: /metric must be a number/ },
  { name: 'ReduceLROnPlateau.step with no metric', build: (o) => new ReduceLROnPlateau(o), bad: (s) => s.step(undefined as never), error: TypeError, message: /metric/ },
  { name: 'StepLR.loadStateDict with a negative step_size', build: (o) => new StepLR(o, { stepSize: 2 }), bad: (s) => s.loadStateDict({ ...s.stateDict(), last_epoch: 7, step_size: -1 } as never), error: RangeError, message: /step_size/ },
  { name: 'StepLR.loadStateDict with a string', build: (o) => new StepLR(o, { stepSize: 2 }), bad: (s) => s.loadStateDict('state' as never), error: TypeError, message: /state dict|object/ },
  { name: 'OneCycleLR.loadStateDict with a NaN last_epoch', build: (o) => new OneCycleLR(o, { maxLr: 0.1, totalSteps: 10 }), bad: (s) => s.loadStateDict({ ...s.stateDict(), last_epoch: NaN } as never), error: RangeError, message: /last_epoch/ },
  { name: 'ReduceLROnPlateau.loadStateDict with a NaN factor', build: (o) => new ReduceLROnPlateau(o), bad: (s) => s.loadStateDict({ ...s.stateDict(), factor: NaN } as never), error: RangeError, message: /factor/ },
];

describe('LR scheduler step() and loadStateDict() with bad input', () => {
  it('a LambdaLR whose lambda yields NaN sets a NaN lr, as PyTorch does; the next step() refuses it and changes nothing', async () => {
    const ctx = trained();
    new LambdaLR(ctx.opt, { lrLambda: (epoch) => (epoch === 0 ? 1 : NaN) }).step();
    expect(ctx.opt.paramGroups[0]!.lr).toBeNaN();
    await expectRefused(ctx, () => ctx.opt.step(), RangeError, 'ERR_OPTION', /step\(\): paramGroups\[0\]: lr must be a finite number >= 0, got NaN/);
  });

  it.each(schedulerCalls)('$name → a coded error; the optimizer and the scheduler unchanged', async ({ build, bad, error, message }) => {
    const ctx = trained();
    const scheduler = build(ctx.opt);
    const state = JSON.stringify(scheduler.stateDict());
    await expectRefused(ctx, () => bad(scheduler), error, expect.any(String) as never, message);
    expect(JSON.stringify(scheduler.stateDict())).toBe(state);
  });
});
