/**
 * Bad input gets the documented class and code, a message naming the argument, and leaves every
 * parameter, gradient and state exactly as it was.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, backend, Parameter, setBackend, SimdAdamError } from '../src/index.js';
import { detach, TRANSFERS } from './support/detach.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';
import { f32State } from './support/float32_state.js';

const initialBackend = backend();
afterAll(() => setBackend(initialBackend));

type ErrorClass = typeof TypeError | typeof RangeError | typeof SimdAdamError;

/** Two groups, three params, already stepped once (state exists) with fresh grads assigned.
 * The first step allocates all three states in one buffer, as a real run does. */
function trained(options: { amsgrad?: boolean } = {}) {
  const params = [7, 20, 3].map((n, i) => new Parameter(fillValues(new Float32Array(n), rng(i + 1)), { name: `p${i}` }));
  const opt = new Adam([{ params: [params[0]!, params[1]!] }, { params: [params[2]!], weightDecay: 0.1 }], { lr: 0.01, ...options });
  const regrad = () => params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(50 + i))));
  regrad();
  opt.step();
  regrad();
  return { opt, params };
}

/** Every entry point that validates a step the way step() does. Each row of the step table runs
 * against each of these. */
const STEP_WAYS = ['step', 'stepAsync', 'explain'] as const;
type StepWay = (typeof STEP_WAYS)[number];

async function runStep(opt: Adam, way: StepWay): Promise<unknown> {
  try {
    await (opt[way] as () => unknown).call(opt);
  } catch (e) {
    return e;
  }
  return undefined;
}

type Ctx = ReturnType<typeof trained>;

interface StepCase {
  name: string;
  options?: { amsgrad?: boolean };
  spoil: (ctx: Ctx) => void;
  error: ErrorClass;
  code: string;
  message: RegExp;
}

const stepCases: StepCase[] = [
  { name: 'a Float64Array grad', spoil: ({ params }) => ((params[2] as { grad: unknown }).grad = new Float64Array(3)), error: TypeError, code: 'ERR_GRAD_TYPE', message: /group 1, parameter 0 \('p2'\): grad must be a Float32Array of length 3 or null, got a Float64Array/ },
  { name: 'a plain-array grad', spoil: ({ params }) => ((params[1] as { grad: unknown }).grad = [1, 2, 3]), error: TypeError, code: 'ERR_GRAD_TYPE', message: /got an Array of length 3/ },
  { name: 'a DataView grad', spoil: ({ params }) => ((params[1] as { grad: unknown }).grad = new DataView(new ArrayBuffer(80))), error: TypeError, code: 'ERR_GRAD_TYPE', message: /got a DataView/ },
  { name: 'an undefined grad', spoil: ({ params }) => ((params[0] as { grad: unknown }).grad = undefined), error: TypeError, code: 'ERR_GRAD_TYPE', message: /got undefined/ },
  { name: 'an object with a data field as grad', spoil: ({ params }) => ((params[0] as { grad: unknown }).grad = { data: new Float32Array(7) }), error: TypeError, code: 'ERR_GRAD_TYPE', message: /got an object/ },
  { name: 'a grad of the wrong length', spoil: ({ params }) => (params[1]!.grad = new Float32Array(19)), error: RangeError, code: 'ERR_GRAD_LENGTH', message: /grad must have length 20 .* got a Float32Array of length 19/ },
  { name: 'a grad that is its own parameter', spoil: ({ params }) => (params[1]!.grad = params[1]!.data), error: SimdAdamError, code: 'ERR_GRAD_ALIAS', message: /shares memory/ },
  { name: "a grad inside another updated parameter's data", spoil: ({ params }) => (params[0]!.grad = params[1]!.data.subarray(5, 12)), error: SimdAdamError, code: 'ERR_GRAD_ALIAS', message: /group 0, parameter 0 \('p0'\): grad shares memory with group 0, parameter 1 \('p1'\)'s data, which this step writes/ },
  { name: "another parameter's exp_avg as grad", spoil: ({ opt, params }) => (params[2]!.grad = f32State(opt.state.get(params[0]!)).expAvg.subarray(4, 7)), error: SimdAdamError, code: 'ERR_GRAD_ALIAS', message: /group 1, parameter 0 \('p2'\): grad shares memory with group 0, parameter 0 \('p0'\)'s optimizer state exp_avg/ },
  { name: 'its own exp_avg_sq as grad', spoil: ({ opt, params }) => (params[1]!.grad = f32State(opt.state.get(params[1]!)).expAvgSq), error: SimdAdamError, code: 'ERR_GRAD_ALIAS', message: /parameter 1 \('p1'\): grad shares memory with its own optimizer state exp_avg_sq/ },
  { name: "another parameter's max_exp_avg_sq as grad", options: { amsgrad: true }, spoil: ({ opt, params }) => (params[0]!.grad = f32State(opt.state.get(params[1]!)).maxExpAvgSq!.subarray(13)), error: SimdAdamError, code: 'ERR_GRAD_ALIAS', message: /\('p1'\)'s optimizer state max_exp_avg_sq/ },
  { name: 'the state of a parameter this step skips as grad', spoil: ({ opt, params }) => { params[0]!.grad = null; params[2]!.grad = f32State(opt.state.get(params[0]!)).expAvgSq.subarray(0, 3); }, error: SimdAdamError, code: 'ERR_GRAD_ALIAS', message: /\('p0'\)'s optimizer state exp_avg_sq/ },
  ...TRANSFERS.map((how) => ({ name: `a grad detached by ${how}`, spoil: ({ params }: Ctx) => detach(params[1]!.grad!.buffer, how), error: RangeError, code: 'ERR_GRAD_LENGTH', message: /parameter 1 \('p1'\): grad must have length 20 .* got a Float32Array of length 0 \(detached\?\)/ })),
  ...TRANSFERS.map((how) => ({ name: `parameter data detached by ${how}`, spoil: ({ params }: Ctx) => detach(params[2]!.data.buffer, how), error: SimdAdamError, code: 'ERR_DETACHED', message: /group 1, parameter 0 \('p2'\): data has length 0 but shape \[3\] needs 3: its buffer was detached/ })),
  ...TRANSFERS.map((how) => ({ name: `optimizer state detached by ${how}`, spoil: ({ opt, params }: Ctx) => detach(f32State(opt.state.get(params[0]!)).expAvg.buffer, how), error: SimdAdamError, code: 'ERR_STATE', message: /parameter 0 \('p0'\): state arrays do not match the parameter's 7 elements \(detached/ })),
  { name: 'a negative lr set between steps', spoil: ({ opt }) => (opt.paramGroups[1]!.lr = -1e-3), error: RangeError, code: 'ERR_OPTION', message: /paramGroups\[1\]: lr must be a finite number >= 0, got -0.001/ },
  { name: 'a NaN lr', spoil: ({ opt }) => (opt.paramGroups[0]!.lr = NaN), error: RangeError, code: 'ERR_OPTION', message: /lr .* got NaN/ },
  { name: 'a string lr', spoil: ({ opt }) => ((opt.paramGroups[0] as { lr: unknown }).lr = '0.1'), error: TypeError, code: 'ERR_OPTION', message: /lr must be .* got the string "0.1"/ },
  { name: 'an infinite weightDecay', spoil: ({ opt }) => (opt.paramGroups[1]!.weightDecay = Infinity), error: RangeError, code: 'ERR_OPTION', message: /weightDecay .* got Infinity/ },
  { name: 'a negative eps', spoil: ({ opt }) => (opt.paramGroups[0]!.eps = -1e-8), error: RangeError, code: 'ERR_OPTION', message: /eps/ },
  { name: 'beta2 = 1', spoil: ({ opt }) => (opt.paramGroups[1]!.betas = [0.9, 1]), error: RangeError, code: 'ERR_OPTION', message: /betas\[1\] must be a finite number in \[0, 1\), got 1/ },
  { name: 'a negative beta1 written in place', spoil: ({ opt }) => (opt.paramGroups[0]!.betas[0] = -0.1), error: RangeError, code: 'ERR_OPTION', message: /betas\[0\]/ },
  { name: 'betas of one number', spoil: ({ opt }) => ((opt.paramGroups[0] as { betas: unknown }).betas = [0.9]), error: TypeError, code: 'ERR_OPTION', message: /betas must be an array of two numbers/ },
  { name: 'amsgrad switched on over existing state', spoil: ({ opt }) => (opt.paramGroups[0]!.amsgrad = true), error: SimdAdamError, code: 'ERR_AMSGRAD_STATE', message: /amsgrad cannot change/ },
  { name: 'a corrupted state step', spoil: ({ opt, params }) => (f32State(opt.state.get(params[0]!)).step = 1.5), error: SimdAdamError, code: 'ERR_STATE', message: /state.step/ },
];

describe('step() with bad input', () => {
  const rows = stepCases.flatMap((c) => STEP_WAYS.map((way) => ({ ...c, way })));
  it.each(rows)('$way(): $name → $code, nothing changed', async ({ way, options, spoil, error, code, message }) => {
    for (const backendName of ['js', 'scalar'] as const) {
      setBackend(backendName);
      const ctx = trained(options);
      spoil(ctx);
      const before = snapshot(ctx.opt, ctx.params);
      const caught = await runStep(ctx.opt, way);
      expect(caught).toBeInstanceOf(error);
      expect(caught).toMatchObject({ code });
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message.startsWith(`${way}(): `), (caught as Error).message).toBe(true);
      expectUnchanged(ctx.opt, ctx.params, before);
      expect(snapshot(ctx.opt, ctx.params).groups).toBe(before.groups);
    }
  });

  it.each(STEP_WAYS)('%s(): a grad overlapping a parameter of another group → ERR_GRAD_ALIAS, nothing changed', async (way) => {
    const memory = new Float32Array(16).fill(0.25);
    const a = new Parameter(memory.subarray(0, 8), { name: 'a' });
    const b = new Parameter(new Float32Array(8).fill(1), { name: 'b' });
    const opt = new AdamW([{ params: [a] }, { params: [b], lr: 0.1 }]);
    a.grad = new Float32Array(8).fill(0.5);
    b.grad = memory.subarray(4, 12);
    const before = snapshot(opt, [a, b]);
    const caught = await runStep(opt, way);
    expect(caught).toMatchObject({ code: 'ERR_GRAD_ALIAS', message: expect.stringMatching(/group 1, parameter 0 \('b'\): grad shares memory with group 0, parameter 0 \('a'\)'s data/) });
    expectUnchanged(opt, [a, b], before);
  });

  it('a grad shared by two parameters, or lying in memory the step does not write, is legal', () => {
    const shared = new Float32Array(5).fill(0.5);
    const frozenMemory = new Float32Array(10).fill(2);
    const frozen = new Parameter(frozenMemory.subarray(0, 5), { requiresGrad: false });
    const idle = new Parameter(new Float32Array(5).fill(3));
    const [a, b, c] = [1, 2, 3].map((v) => new Parameter(new Float32Array(5).fill(v)));
    const opt = new Adam([a!, b!, c!, frozen, idle], { lr: 0.1 });
    a!.grad = shared;
    b!.grad = shared;
    c!.grad = frozenMemory.subarray(0, 5); // the frozen parameter's data: read, never written
    frozen.grad = new Float32Array(5);
    idle.grad = null;
    opt.step();
    // Adam's first step moves each element by lr against the sign of its grad.
    a!.data.forEach((v) => expect(v).toBeCloseTo(0.9, 6));
    b!.data.forEach((v) => expect(v).toBeCloseTo(1.9, 6));
    c!.data.forEach((v) => expect(v).toBeCloseTo(2.9, 6));
    expect(Array.from(shared)).toEqual(Array(5).fill(0.5));
    expect(Array.from(frozen.data)).toEqual(Array(5).fill(2));
    expect(opt.state.get(frozen)).toBeUndefined();
  });

  it('a grad overlapping part of its own parameter → ERR_GRAD_ALIAS, nothing changed', () => {
    const buffer = new Float32Array(30).fill(0.5);
    const p = new Parameter(buffer.subarray(0, 20), { name: 'w' });
    const q = new Parameter(new Float32Array(20).fill(1));
    const opt = new Adam([q, p]);
    q.grad = new Float32Array(20).fill(0.1);
    p.grad = buffer.subarray(10, 30);
    const before = snapshot(opt, [q, p]);
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_GRAD_ALIAS' }));
    expectUnchanged(opt, [q, p], before);
  });
});

interface ConstructCase {
  name: string;
  make: () => unknown;
  error: ErrorClass;
  code: string;
  message: RegExp;
}

const p1 = () => new Parameter(new Float32Array(4), { name: 'w' });
const constructCases: ConstructCase[] = [
  { name: 'a PyTorch-spelled option', make: () => new Adam([p1()], { weight_decay: 0.1 } as never), error: TypeError, code: 'ERR_OPTION', message: /unknown option 'weight_decay' \(did you mean weightDecay\?\)/ },
  { name: 'a misspelt option', make: () => new Adam([p1()], { amsgard: true } as never), error: TypeError, code: 'ERR_OPTION', message: /did you mean amsgrad\?/ },
  { name: 'a misspelt group option', make: () => new Adam([{ params: [p1()], learningRate: 0.1 }] as never), error: TypeError, code: 'ERR_OPTION', message: /group 0: unknown option 'learningRate'/ },
  { name: 'lr < 0', make: () => new Adam([p1()], { lr: -1 }), error: RangeError, code: 'ERR_OPTION', message: /lr must be a finite number >= 0, got -1/ },
  { name: 'beta1 = 1 in a group', make: () => new AdamW([{ params: [p1()], betas: [1, 0.999] }]), error: RangeError, code: 'ERR_OPTION', message: /group 0: betas\[0\]/ },
  { name: 'a NaN lr', make: () => new Adam([p1()], { lr: NaN }), error: RangeError, code: 'ERR_OPTION', message: /lr must be a finite number >= 0, got NaN/ },
  { name: 'an infinite lr', make: () => new AdamW([p1()], { lr: Infinity }), error: RangeError, code: 'ERR_OPTION', message: /lr .* got Infinity/ },
  { name: 'a NaN eps', make: () => new Adam([p1()], { eps: NaN }), error: RangeError, code: 'ERR_OPTION', message: /eps .* got NaN/ },
  { name: 'a negative weightDecay', make: () => new AdamW([p1()], { weightDecay: -0.01 }), error: RangeError, code: 'ERR_OPTION', message: /weightDecay .* got -0.01/ },
  { name: 'a negative beta2', make: () => new Adam([p1()], { betas: [0.9, -0.1] }), error: RangeError, code: 'ERR_OPTION', message: /betas\[1\] must be a finite number in \[0, 1\), got -0.1/ },
  { name: 'beta1 above 1', make: () => new Adam([p1()], { betas: [1.5, 0.999] }), error: RangeError, code: 'ERR_OPTION', message: /betas\[0\]/ },
  { name: 'a NaN beta1', make: () => new Adam([p1()], { betas: [NaN, 0.999] }), error: RangeError, code: 'ERR_OPTION', message: /betas\[0\] .* got NaN/ },
  { name: 'betas as a Float64Array', make: () => new Adam([p1()], { betas: new Float64Array([0.9, 0.999]) as never }), error: TypeError, code: 'ERR_OPTION', message: /betas must be an array of two numbers/ },
  { name: 'a string option object', make: () => new Adam([p1()], 'fast' as never), error: TypeError, code: 'ERR_OPTION', message: /expected an options object/ },
  { name: 'an unknown nonFinite mode', make: () => new Adam([p1()], { nonFinite: 'ignore' as never }), error: RangeError, code: 'ERR_OPTION', message: /nonFinite must be one of propagate, skip, throw/ },
  { name: 'params that are undefined', make: () => new Adam(undefined as never), error: TypeError, code: 'ERR_PARAM_GROUP', message: /got undefined/ },
  { name: 'a group whose params is a DataView', make: () => new Adam([{ params: new DataView(new ArrayBuffer(8)) as never }]), error: TypeError, code: 'ERR_PARAM_GROUP', message: /DataView/ },
  { name: 'a non-boolean amsgrad', make: () => new Adam([p1()], { amsgrad: 1 } as never), error: TypeError, code: 'ERR_OPTION', message: /amsgrad must be a boolean, got 1/ },
  { name: 'an empty parameter list', make: () => new Adam([]), error: SimdAdamError, code: 'ERR_EMPTY_PARAMS', message: /empty parameter list/ },
  { name: 'a group with no parameters', make: () => new Adam([{ params: [] }]), error: SimdAdamError, code: 'ERR_EMPTY_PARAMS', message: /group 0/ },
  { name: 'a parameter twice in one group', make: () => { const w = p1(); return new Adam([w, w]); }, error: SimdAdamError, code: 'ERR_DUPLICATE_PARAM', message: /appears twice/ },
  { name: 'two parameters over overlapping memory', make: () => { const buf = new Float32Array(8); return new Adam([new Parameter(buf.subarray(0, 5), { name: 'a' }), new Parameter(buf.subarray(4), { name: 'b' })]); }, error: SimdAdamError, code: 'ERR_PARAM_ALIAS', message: /group 0, parameter 1 \('b'\) shares memory with group 0, parameter 0 \('a'\)/ },
  { name: 'a frozen parameter over a trained one\'s memory, across groups', make: () => { const buf = new Float32Array(8); return new Adam([{ params: [new Parameter(buf)] }, { params: [new Parameter(buf.subarray(7), { requiresGrad: false })] }]); }, error: SimdAdamError, code: 'ERR_PARAM_ALIAS', message: /group 1, parameter 0 .* shares memory with group 0, parameter 0/ },
  { name: 'a parameter in two groups', make: () => { const w = p1(); return new Adam([{ params: [w] }, { params: [p1(), w] }]); }, error: SimdAdamError, code: 'ERR_DUPLICATE_PARAM', message: /group 1: parameter 1 \('w'\) is already in group 0/ },
  { name: 'a single Parameter instead of a list', make: () => new Adam(p1() as never), error: TypeError, code: 'ERR_PARAM_GROUP', message: /wrap it in an array/ },
  { name: 'a Float32Array instead of a Parameter', make: () => new Adam([new Float32Array(3)] as never), error: TypeError, code: 'ERR_PARAM_TYPE', message: /params\[0\] must be a Parameter or a param group, got a Float32Array of length 3 \(wrap it: new Parameter\(array\)\)/ },
  { name: 'a Float32Array beside a param group', make: () => new Adam([{ params: [p1()] }, new Float32Array(2)] as never), error: TypeError, code: 'ERR_PARAM_TYPE', message: /params\[1\] must be a Parameter or a param group/ },
  { name: "PyTorch's fused option", make: () => new Adam([p1()], { fused: true } as never), error: TypeError, code: 'ERR_OPTION', message: /'fused' is a PyTorch device option with no meaning here \(simd-adam always runs its fused CPU kernel\): drop it/ },
  ...['foreach', 'capturable', 'differentiable'].map((key) => ({ name: `PyTorch's ${key} option`, make: () => new AdamW([p1()], { [key]: false } as never), error: TypeError, code: 'ERR_OPTION', message: new RegExp(`'${key}' is a PyTorch device option with no meaning here .*: drop it; expected one of`) })),
  { name: 'zeroGrad(true) as in PyTorch', make: () => new Adam([p1()]).zeroGrad(true as never), error: TypeError, code: 'ERR_OPTION', message: /did you mean zeroGrad\(\{ setToNone: true \}\)\?/ },
  { name: 'a Parameter over a Float64Array', make: () => new Parameter(new Float64Array(3) as never), error: TypeError, code: 'ERR_PARAM_TYPE', message: /data must be a Float32Array, got a Float64Array of length 3/ },
  { name: 'a Parameter over a plain array', make: () => new Parameter([1, 2] as never), error: TypeError, code: 'ERR_PARAM_TYPE', message: /got an Array/ },
  { name: 'a shape that does not fit the data', make: () => new Parameter(new Float32Array(6), { shape: [4, 2] }), error: RangeError, code: 'ERR_SHAPE', message: /shape \[4, 2\] holds 8 elements but data has length 6/ },
  { name: 'a negative dimension', make: () => new Parameter(new Float32Array(0), { shape: [-1] }), error: RangeError, code: 'ERR_SHAPE', message: /non-negative integers/ },
  { name: 'a non-boolean requiresGrad', make: () => new Parameter(new Float32Array(1), { requiresGrad: 'no' } as never), error: TypeError, code: 'ERR_OPTION', message: /requiresGrad must be a boolean/ },
  { name: 'zeroGrad with set_to_none', make: () => new Adam([p1()]).zeroGrad({ set_to_none: false } as never), error: TypeError, code: 'ERR_OPTION', message: /did you mean setToNone\?/ },
  { name: 'setBackend with an unknown name', make: () => setBackend('cuda' as never), error: RangeError, code: 'ERR_BACKEND', message: /unknown backend 'cuda'; expected one of/ },
  { name: 'setBackend with a backend this CPU lacks', make: () => setBackend(process.arch === 'arm64' ? 'avx2' : 'neon'), error: SimdAdamError, code: 'ERR_BACKEND', message: /not available on this machine/ },
  { name: 'setBackend with a non-string', make: () => setBackend(3 as never), error: TypeError, code: 'ERR_BACKEND', message: /must be a string, got 3/ },
  { name: 'setBackend with undefined', make: () => setBackend(undefined as never), error: TypeError, code: 'ERR_BACKEND', message: /must be a string, got undefined/ },
  { name: 'setBackend with a differently cased name', make: () => setBackend('AVX2' as never), error: RangeError, code: 'ERR_BACKEND', message: /unknown backend 'AVX2'/ },
];

describe('constructors and configuration with bad input', () => {
  it.each(constructCases)('$name → $code', ({ make, error, code, message }) => {
    let caught: unknown;
    try {
      make();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(error);
    expect(caught).toMatchObject({ code });
    expect((caught as Error).message).toMatch(message);
  });

  it('addParamGroup with a parameter already present changes nothing', () => {
    const { opt, params } = trained();
    const before = snapshot(opt, params);
    expect(() => opt.addParamGroup({ params: [new Parameter(new Float32Array(2)), params[0]!] })).toThrow(
      expect.objectContaining({ code: 'ERR_DUPLICATE_PARAM' }),
    );
    expect(() => opt.addParamGroup({ params: [new Parameter(new Float32Array(2))], lr: -1 })).toThrow(RangeError);
    expectUnchanged(opt, params, before);
  });

  it('every error the package throws carries a string code', () => {
    for (const c of constructCases) {
      try {
        c.make();
      } catch (e) {
        expect(typeof (e as { code?: unknown }).code).toBe('string');
      }
    }
  });
});
