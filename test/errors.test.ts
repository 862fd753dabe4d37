/**
 * Bad input gets the documented class and code, a message naming the argument, and leaves every
 * parameter, gradient and state exactly as it was.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, backend, Parameter, setBackend, SimdAdamError } from '../src/index.js';
import { fillValues, rng } from './support/random.js';
import { expectUnchanged, snapshot } from './support/snapshot.js';

const initialBackend = backend();
afterAll(() => setBackend(initialBackend));

type ErrorClass = typeof TypeError | typeof RangeError | typeof SimdAdamError;

/** Two groups, three params, already stepped once (state exists) with fresh grads assigned. */
function trained(options: { amsgrad?: boolean } = {}) {
  const params = [7, 20, 3].map((n, i) => new Parameter(fillValues(new Float32Array(n), rng(i + 1)), { name: `p${i}` }));
  const opt = new Adam([{ params: [params[0]!, params[1]!] }, { params: [params[2]!], weightDecay: 0.1 }], { lr: 0.01, ...options });
  const regrad = () => params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(50 + i))));
  regrad();
  opt.step();
  regrad();
  return { opt, params };
}

interface StepCase {
  name: string;
  spoil: (ctx: ReturnType<typeof trained>) => void;
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
  { name: 'a negative lr set between steps', spoil: ({ opt }) => (opt.paramGroups[1]!.lr = -1e-3), error: RangeError, code: 'ERR_OPTION', message: /paramGroups\[1\]: lr must be a finite number >= 0, got -0.001/ },
  { name: 'a NaN lr', spoil: ({ opt }) => (opt.paramGroups[0]!.lr = NaN), error: RangeError, code: 'ERR_OPTION', message: /lr .* got NaN/ },
  { name: 'a string lr', spoil: ({ opt }) => ((opt.paramGroups[0] as { lr: unknown }).lr = '0.1'), error: TypeError, code: 'ERR_OPTION', message: /lr must be .* got the string "0.1"/ },
  { name: 'an infinite weightDecay', spoil: ({ opt }) => (opt.paramGroups[1]!.weightDecay = Infinity), error: RangeError, code: 'ERR_OPTION', message: /weightDecay .* got Infinity/ },
  { name: 'a negative eps', spoil: ({ opt }) => (opt.paramGroups[0]!.eps = -1e-8), error: RangeError, code: 'ERR_OPTION', message: /eps/ },
  { name: 'beta2 = 1', spoil: ({ opt }) => (opt.paramGroups[1]!.betas = [0.9, 1]), error: RangeError, code: 'ERR_OPTION', message: /betas\[1\] must be a finite number >= 0 < 1, got 1/ },
  { name: 'a negative beta1 written in place', spoil: ({ opt }) => (opt.paramGroups[0]!.betas[0] = -0.1), error: RangeError, code: 'ERR_OPTION', message: /betas\[0\]/ },
  { name: 'betas of one number', spoil: ({ opt }) => ((opt.paramGroups[0] as { betas: unknown }).betas = [0.9]), error: TypeError, code: 'ERR_OPTION', message: /betas must be an array of two numbers/ },
  { name: 'amsgrad switched on over existing state', spoil: ({ opt }) => (opt.paramGroups[0]!.amsgrad = true), error: SimdAdamError, code: 'ERR_AMSGRAD_STATE', message: /amsgrad cannot change/ },
  { name: 'a corrupted state step', spoil: ({ opt, params }) => (opt.state.get(params[0]!)!.step = 1.5), error: SimdAdamError, code: 'ERR_STATE', message: /state.step/ },
];

describe('step() with bad input', () => {
  it.each(stepCases)('$name → $code, nothing changed', ({ spoil, error, code, message }) => {
    for (const backendName of ['js', 'scalar'] as const) {
      setBackend(backendName);
      const ctx = trained();
      spoil(ctx);
      const before = snapshot(ctx.opt, ctx.params);
      let caught: unknown;
      try {
        ctx.opt.step();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(error);
      expect(caught).toMatchObject({ code });
      expect((caught as Error).message).toMatch(message);
      expectUnchanged(ctx.opt, ctx.params, before);
    }
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

  it('a detached parameter buffer → ERR_DETACHED, nothing changed', () => {
    const p = new Parameter(new Float32Array(8), { name: 'moved' });
    const q = new Parameter(new Float32Array(8).fill(1));
    const opt = new Adam([q, p]);
    q.grad = new Float32Array(8).fill(0.1);
    p.grad = new Float32Array(8).fill(0.1);
    structuredClone(p.data.buffer, { transfer: [p.data.buffer as ArrayBuffer] });
    const before = snapshot(opt, [q]);
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_DETACHED' }));
    expectUnchanged(opt, [q], before);
  });

  it('a detached grad buffer → ERR_GRAD_LENGTH naming the likely cause', () => {
    const p = new Parameter(new Float32Array(8));
    const opt = new Adam([p]);
    p.grad = new Float32Array(8);
    structuredClone(p.grad.buffer, { transfer: [p.grad.buffer as ArrayBuffer] });
    expect(() => opt.step()).toThrow(/detached/);
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
  { name: 'a non-boolean amsgrad', make: () => new Adam([p1()], { amsgrad: 1 } as never), error: TypeError, code: 'ERR_OPTION', message: /amsgrad must be a boolean, got 1/ },
  { name: 'an empty parameter list', make: () => new Adam([]), error: SimdAdamError, code: 'ERR_EMPTY_PARAMS', message: /empty parameter list/ },
  { name: 'a group with no parameters', make: () => new Adam([{ params: [] }]), error: SimdAdamError, code: 'ERR_EMPTY_PARAMS', message: /group 0/ },
  { name: 'a parameter twice in one group', make: () => { const w = p1(); return new Adam([w, w]); }, error: SimdAdamError, code: 'ERR_DUPLICATE_PARAM', message: /appears twice/ },
  { name: 'a parameter in two groups', make: () => { const w = p1(); return new Adam([{ params: [w] }, { params: [p1(), w] }]); }, error: SimdAdamError, code: 'ERR_DUPLICATE_PARAM', message: /group 1: parameter 1 \('w'\) is already in group 0/ },
  { name: 'a single Parameter instead of a list', make: () => new Adam(p1() as never), error: TypeError, code: 'ERR_PARAM_GROUP', message: /wrap it in an array/ },
  { name: 'a Float32Array instead of a Parameter', make: () => new Adam([new Float32Array(3)] as never), error: TypeError, code: 'ERR_PARAM_GROUP', message: /params\[0\]/ },
  { name: 'a Parameter over a Float64Array', make: () => new Parameter(new Float64Array(3) as never), error: TypeError, code: 'ERR_PARAM_TYPE', message: /data must be a Float32Array, got a Float64Array of length 3/ },
  { name: 'a Parameter over a plain array', make: () => new Parameter([1, 2] as never), error: TypeError, code: 'ERR_PARAM_TYPE', message: /got an Array/ },
  { name: 'a shape that does not fit the data', make: () => new Parameter(new Float32Array(6), { shape: [4, 2] }), error: RangeError, code: 'ERR_SHAPE', message: /shape \[4, 2\] holds 8 elements but data has length 6/ },
  { name: 'a negative dimension', make: () => new Parameter(new Float32Array(0), { shape: [-1] }), error: RangeError, code: 'ERR_SHAPE', message: /non-negative integers/ },
  { name: 'a non-boolean requiresGrad', make: () => new Parameter(new Float32Array(1), { requiresGrad: 'no' } as never), error: TypeError, code: 'ERR_OPTION', message: /requiresGrad must be a boolean/ },
  { name: 'zeroGrad with set_to_none', make: () => new Adam([p1()]).zeroGrad({ set_to_none: false } as never), error: TypeError, code: 'ERR_OPTION', message: /did you mean setToNone\?/ },
  { name: 'setBackend with an unknown name', make: () => setBackend('cuda' as never), error: RangeError, code: 'ERR_BACKEND', message: /unknown backend 'cuda'; expected one of/ },
  { name: 'setBackend with a backend this CPU lacks', make: () => setBackend(process.arch === 'arm64' ? 'avx2' : 'neon'), error: SimdAdamError, code: 'ERR_BACKEND', message: /not available on this machine/ },
  { name: 'setBackend with a non-string', make: () => setBackend(3 as never), error: TypeError, code: 'ERR_BACKEND', message: /must be a string, got 3/ },
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
