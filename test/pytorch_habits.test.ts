/**
 * PyTorch habits that plain JavaScript would accept and train wrong with: each one either does
 * what PyTorch does or throws a coded error that says what to write instead. The same habits run
 * in sloppy-mode CommonJS (test/sloppy/pytorch_habits.cjs), where a mere getter would be ignored.
 */
import { execFileSync } from 'node:child_process';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Adam, AdamW, type AdamParamGroup, Parameter, ParameterStore, registerOptimizerStepPreHook, SimdAdamError, StepLR } from '../src/index.js';
import { f32State } from './support/float32_state.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function model() {
  const w = new Parameter(Float32Array.from([1, -2, 3]), { name: 'w' });
  const b = new Parameter(Float32Array.from([0.5, -0.5]), { name: 'b' });
  return { w, b, opt: new Adam([w, b], { lr: 0.1 }) };
}

const coded = (name: string, code: string, message?: RegExp) =>
  expect.objectContaining({ name, code, ...(message ? { message: expect.stringMatching(message) } : {}) });

describe('Parameter.data and the other members fixed at construction', () => {
  it('refuses p.data = array with a coded TypeError that says to copy in with p.data.set(), and keeps training the same array', () => {
    const { w, opt } = model();
    const original = w.data;
    expect(() => {
      (w as { data: Float32Array }).data = new Float32Array(3);
    }).toThrow(coded('TypeError', 'ERR_READONLY', /p\.data\.set\(values\)/));
    expect(w.data).toBe(original);
    w.data.set([4, 5, 6]);
    w.grad = Float32Array.from([1, 1, 1]);
    opt.step();
    expect(Array.from(original)).not.toEqual([4, 5, 6]);
    expect(w.data).toBe(original);
  });

  it.each(['name', 'shape', 'numel', 'label'])('refuses assigning p.%s', (member) => {
    const { w } = model();
    const before = w[member as keyof Parameter];
    expect(() => Object.assign(w, { [member]: 1 })).toThrow(coded('TypeError', 'ERR_READONLY', new RegExp(member)));
    expect(w[member as keyof Parameter]).toEqual(before);
  });

  it('refuses replacing an optimizer\'s paramGroups, defaults, state and constructor options', () => {
    const { opt } = model();
    for (const member of ['paramGroups', 'defaults', 'state', 'nonFinite', 'warnOnZeroGrad']) {
      expect(() => Object.assign(opt, { [member]: 1 }), member).toThrow(coded('TypeError', 'ERR_READONLY', new RegExp(`Adam\\.${member}`)));
    }
  });

  it('refuses replacing a ParameterStore\'s buffers', () => {
    const store = new ParameterStore([{ shape: [2] }]);
    for (const member of ['data', 'grads', 'params']) {
      expect(() => Object.assign(store, { [member]: 1 }), member).toThrow(coded('TypeError', 'ERR_READONLY'));
    }
  });

  it('still prints a Parameter\'s fields', () => {
    const { w } = model();
    expect(inspect(w, { breakLength: Infinity })).toMatch(/^Parameter \{ name: 'w', shape: \[ 3 \], requiresGrad: true, data: Float32Array\(3\) \[ 1, -2, 3 \], grad: null \}$/);
  });
});

describe('PyTorch spellings of members', () => {
  it('p.requires_grad = false throws a TypeError naming requiresGrad, and the parameter stays trainable', () => {
    const { w } = model();
    expect(() => Object.assign(w, { requires_grad: false })).toThrow(coded('TypeError', 'ERR_OPTION', /did you mean requiresGrad\?/));
    expect(() => (w as unknown as Record<string, unknown>).requires_grad).toThrow(coded('TypeError', 'ERR_OPTION'));
    expect(w.requiresGrad).toBe(true);
  });

  it.each([
    ['param_groups', 'paramGroups'],
    ['zero_grad', 'zeroGrad()'],
    ['state_dict', 'stateDict()'],
    ['load_state_dict', 'loadStateDict()'],
    ['add_param_group', 'addParamGroup()'],
    ['step_async', 'stepAsync()'],
    ['register_step_pre_hook', 'registerStepPreHook()'],
  ])('opt.%s, read or assigned, throws a TypeError naming %s (Adam and AdamW)', (snake, camel) => {
    for (const opt of [model().opt, new AdamW([new Parameter(new Float32Array(1))])]) {
      const message = new RegExp(`${opt.constructor.name}\\.${snake} is PyTorch's spelling: did you mean ${camel.replace(/[()]/g, '\\$&')}\\?`);
      expect(() => (opt as unknown as Record<string, unknown>)[snake]).toThrow(coded('TypeError', 'ERR_OPTION', message));
      expect(() => Object.assign(opt, { [snake]: 1 })).toThrow(coded('TypeError', 'ERR_OPTION', message));
    }
  });

  it('covers the schedulers and ParameterStore too', () => {
    const { opt } = model();
    const scheduler = new StepLR(opt, { stepSize: 2 });
    expect(() => Object.assign(scheduler, { last_epoch: 5 })).toThrow(coded('TypeError', 'ERR_OPTION', /StepLR\.last_epoch .*lastEpoch/));
    expect(() => Object.assign(scheduler, { step_size: 5 })).toThrow(coded('TypeError', 'ERR_OPTION', /stepSize/));
    expect(() => (scheduler as unknown as Record<string, () => void>).get_last_lr!()).toThrow(coded('TypeError', 'ERR_OPTION', /getLastLr\(\)/));
    expect(scheduler.lastEpoch).toBe(0);
    const store = new ParameterStore([{ shape: [2] }]);
    expect(() => (store as unknown as Record<string, () => void>).attach_grads!()).toThrow(coded('TypeError', 'ERR_OPTION', /attachGrads\(\)/));
  });
});

describe('param_groups.append(...) as paramGroups.push(...)', () => {
  it('throws a coded TypeError naming addParamGroup from every mutating method, and the groups stay as they were', () => {
    const { w, opt } = model();
    const extra = new Parameter(new Float32Array(2));
    const groups = opt.paramGroups as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => groups.push!({ params: [extra] })).toThrow(coded('TypeError', 'ERR_PARAM_GROUP', /Adam\.paramGroups cannot be changed in place \(push\(\)\): add a group with addParamGroup\(\)/));
    for (const method of ['pop', 'shift', 'unshift', 'splice', 'reverse']) expect(() => groups[method]!()).toThrow(coded('TypeError', 'ERR_PARAM_GROUP'));
    const params = opt.paramGroups[0]!.params as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => params.push!(extra)).toThrow(coded('TypeError', 'ERR_PARAM_GROUP', /paramGroups\[0\]\.params cannot be changed in place \(push\(\)\): .*addParamGroup\(\)/));
    expect(opt.paramGroups).toHaveLength(1);
    expect(opt.paramGroups[0]!.params[0]).toBe(w);
    // What reads them still sees plain arrays; addParamGroup still adds.
    expect([...opt.paramGroups].length).toBe(1);
    expect(Object.keys(opt.paramGroups)).toEqual(['0']);
    opt.addParamGroup({ params: [extra] });
    expect(opt.paramGroups).toHaveLength(2);
    expect(() => (opt.paramGroups as unknown as unknown[]).push({})).toThrow(coded('TypeError', 'ERR_PARAM_GROUP'));
  });
});

describe("PyTorch's state keys on a state view (state[p]['exp_avg'])", () => {
  const stepped = (options: ConstructorParameters<typeof Adam>[1]) => {
    const w = new Parameter(Float32Array.from([1, -2, 3]), { name: 'w' });
    const opt = new Adam([w], { lr: 0.1, ...options });
    w.grad = Float32Array.from([1, 1, 1]);
    opt.step();
    return { w, opt };
  };
  const pairs = [['exp_avg', 'expAvg'], ['exp_avg_sq', 'expAvgSq'], ['max_exp_avg_sq', 'maxExpAvgSq']] as const;

  it.each(['float32', 'bfloat16', '8bit'] as const)('reading or assigning exp_avg, exp_avg_sq or max_exp_avg_sq throws ERR_OPTION naming the camelCase key (%s state)', (stateDtype) => {
    const { w, opt } = stepped({ amsgrad: true, stateDtype, min8bitSize: 0 });
    const state = opt.state.get(w)! as unknown as Record<string, unknown>;
    for (const [snake, camel] of pairs) {
      const message = new RegExp(`state\\.${snake} is PyTorch's spelling: did you mean ${camel}\\?`);
      expect(() => state[snake], snake).toThrow(coded('TypeError', 'ERR_OPTION', message));
      expect(() => Object.assign(state, { [snake]: 0 }), snake).toThrow(coded('TypeError', 'ERR_OPTION', message));
      expect(state[camel], camel).toBeDefined();
    }
  });

  it('keeps JSON, inspect, keys and stateDict() as they were, and refuses on state a loaded state dict created', () => {
    const { w, opt } = stepped({ amsgrad: true });
    const state = opt.state.get(w)!;
    expect(Object.keys(state)).toEqual(['step', 'expAvg', 'expAvgSq', 'maxExpAvgSq', 'dtype']);
    expect(Object.keys(JSON.parse(JSON.stringify(state)) as object)).toEqual(['step', 'expAvg', 'expAvgSq', 'maxExpAvgSq', 'dtype']);
    expect(inspect(state)).not.toMatch(/exp_avg/);
    const saved = opt.stateDict();
    expect(Object.keys(saved.state[0]!)).toEqual(['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']);
    const { w: w2, opt: other } = stepped({ amsgrad: true, lr: 0.5 });
    other.loadStateDict(JSON.parse(JSON.stringify(saved)) as typeof saved);
    const loaded = other.state.get(w2)!;
    expect(Array.from(loaded.expAvg as Float32Array)).toEqual(Array.from(state.expAvg as Float32Array));
    expect(() => (loaded as unknown as Record<string, unknown>).exp_avg).toThrow(coded('TypeError', 'ERR_OPTION', /did you mean expAvg\?/));
  });
});

describe('a param group key spelled the PyTorch way', () => {
  it('makes step(), stepAsync() and explain() throw ERR_OPTION ("did you mean weightDecay?") with nothing changed', async () => {
    const { w, b, opt } = model();
    w.grad = Float32Array.from([1, 1, 1]);
    b.grad = Float32Array.from([1, 1]);
    opt.step();
    const before = { w: w.data.slice(), b: b.data.slice(), state: JSON.stringify(opt.stateDict()) };
    (opt.paramGroups[0] as Record<string, unknown>).weight_decay = 0.5;
    const message = /paramGroups\[0\].*'weight_decay' is PyTorch's spelling \(did you mean weightDecay\?\)/;
    expect(() => opt.step()).toThrow(coded('TypeError', 'ERR_OPTION', message));
    await expect(opt.stepAsync()).rejects.toThrow(coded('TypeError', 'ERR_OPTION', message));
    expect(() => opt.explain()).toThrow(coded('TypeError', 'ERR_OPTION', message));
    expect({ w: w.data, b: b.data }).toEqual({ w: before.w, b: before.b });
    expect(opt.state.get(w)!.step).toBe(1);
    // Once the PyTorch spelling is gone, the real key steps as usual.
    delete (opt.paramGroups[0] as Record<string, unknown>).weight_decay;
    opt.paramGroups[0]!.weightDecay = 0.5;
    opt.step();
    expect(opt.state.get(w)!.step).toBe(2);
  });

  it('is a type error for each hyperparameter spelled differently in PyTorch, and step() refuses each at run time', () => {
    // The @ts-expect-error lines are the type test: npm run typecheck fails if one compiles.
    const assign: Array<[string, (g: AdamParamGroup) => void]> = [
      // @ts-expect-error weight_decay is typed never
      ['weightDecay', (g) => (g.weight_decay = 0.5)],
      // @ts-expect-error decoupled_weight_decay is typed never
      ['decoupledWeightDecay', (g) => (g.decoupled_weight_decay = true)],
      // @ts-expect-error state_dtype is typed never
      ['stateDtype', (g) => (g.state_dtype = 'bfloat16')],
      // @ts-expect-error min_8bit_size is typed never
      ['min8bitSize', (g) => (g.min_8bit_size = 0)],
    ];
    for (const [camel, set] of assign) {
      const { w, opt } = model();
      w.grad = Float32Array.from([1, 1, 1]);
      set(opt.paramGroups[0]!);
      expect(() => opt.step(), camel).toThrow(coded('TypeError', 'ERR_OPTION', new RegExp(`did you mean ${camel}\\?`)));
    }
    // Keys PyTorch spells the same, and extra keys, stay assignable.
    const { opt } = model();
    opt.paramGroups[0]!.amsgrad = true;
    opt.paramGroups[0]!.foreach = true;
  });

  it('never overwrites the translated hyperparameter in stateDict()', () => {
    for (const [key, camel, value] of [['weight_decay', 'weightDecay', 0.5], ['decoupled_weight_decay', 'decoupledWeightDecay', true]] as const) {
      const { opt } = model();
      (opt.paramGroups[0] as Record<string, unknown>)[key] = value;
      const saved = opt.stateDict().param_groups[0] as Record<string, unknown>;
      expect(saved[key], key).toBe(opt.paramGroups[0]![camel]);
    }
  });

  it('leaves other extra keys alone: a scheduler\'s initialLr is written as initial_lr', () => {
    const { opt } = model();
    new StepLR(opt, { stepSize: 2 });
    expect(opt.stateDict().param_groups[0]!.initial_lr).toBe(0.1);
  });
});

describe('step(closure) and stepAsync(closure)', () => {
  it('calls the closure once, after the pre hooks and before the update, steps with the grads it set, and returns its value', () => {
    const { w, b, opt } = model();
    const reference = model();
    const order: string[] = [];
    const hook = registerOptimizerStepPreHook(() => void order.push('pre hook'));
    const loss = opt.step(() => {
      order.push('closure');
      opt.zeroGrad();
      w.grad = Float32Array.from([1, 2, 3]);
      b.grad = Float32Array.from([-1, 1]);
      return 0.25;
    });
    hook.remove();
    expect(loss).toBe(0.25);
    expect(order).toEqual(['pre hook', 'closure']);
    reference.w.grad = Float32Array.from([1, 2, 3]);
    reference.b.grad = Float32Array.from([-1, 1]);
    expect(reference.opt.step()).toBeUndefined();
    expect({ w: w.data, b: b.data }).toEqual({ w: reference.w.data, b: reference.b.data });
  });

  it('stepAsync awaits an async closure and resolves to its value, with the same update as step()', async () => {
    const { w, b, opt } = model();
    const reference = model();
    const loss = await opt.stepAsync(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      opt.zeroGrad();
      w.grad = Float32Array.from([1, 2, 3]);
      return { loss: 0.5 };
    });
    expect(loss).toEqual({ loss: 0.5 });
    reference.w.grad = Float32Array.from([1, 2, 3]);
    reference.opt.step();
    expect({ w: w.data, b: b.data }).toEqual({ w: reference.w.data, b: reference.b.data });
    expect(await opt.stepAsync()).toBeUndefined();
  });

  it('a closure that throws stops the step before anything changes', async () => {
    const { w, opt } = model();
    w.grad = Float32Array.from([1, 1, 1]);
    const before = w.data.slice();
    expect(() => opt.step(() => {
      throw new Error('forward failed');
    })).toThrow('forward failed');
    await expect(opt.stepAsync(() => Promise.reject(new Error('forward failed')))).rejects.toThrow('forward failed');
    expect(w.data).toEqual(before);
    expect(opt.state.get(w)).toBeUndefined();
  });

  it('refuses an async closure in step() (the grads it sets after an await would be missed), updating nothing, and points to stepAsync', async () => {
    const { w, b, opt } = model();
    w.grad = Float32Array.from([1, 1, 1]);
    const before = { w: w.data.slice(), b: b.data.slice() };
    let late: Promise<void> | undefined;
    expect(() =>
      opt.step(async () => {
        late = new Promise((resolve) => setTimeout(resolve, 1));
        await late;
        w.grad = Float32Array.from([5, 5, 5]);
        return 0.5;
      }),
    ).toThrow(coded('TypeError', 'ERR_OPTION', /returned a promise.*stepAsync\(closure\)/));
    expect({ w: w.data, b: b.data }).toEqual(before);
    expect(opt.state.get(w)).toBeUndefined();
    await late;
    // A closure that returns a thenable of its own making is refused the same way.
    expect(() => opt.step(() => ({ then: () => undefined }))).toThrow(coded('TypeError', 'ERR_OPTION'));
    expect(opt.step(() => 0.25)).toBe(0.25);
  });

  it('refuses a closure that is not a function, before any hook runs', async () => {
    const { opt } = model();
    const pre = vi.fn();
    opt.registerStepPreHook(pre);
    expect(() => opt.step(0.5 as never)).toThrow(coded('TypeError', 'ERR_OPTION', /closure must be a function/));
    await expect(opt.stepAsync('loss' as never)).rejects.toThrow(coded('TypeError', 'ERR_OPTION'));
    expect(pre).not.toHaveBeenCalled();
  });

  it('refuses to step if the closure started a stepAsync of the same optimizer', async () => {
    const { w, opt } = model();
    w.grad = Float32Array.from([1, 1, 1]);
    let running: Promise<unknown> | undefined;
    expect(() => opt.step(() => void (running = opt.stepAsync()))).toThrow(coded('SimdAdamError', 'ERR_BUSY'));
    await running;
    expect(opt.state.get(w)!.step).toBe(1);
  });
});

describe('ParameterStore.attachGrads()', () => {
  /** A backward that adds into the grads, as autograd accumulates: grad += 1 per element. */
  const accumulate = (store: ParameterStore) => store.params.forEach((p) => p.grad && p.grad.forEach((_, i, g) => (g[i]! += 1)));

  it('zero-fills the views it attaches, so an accumulating backward sees this step\'s gradient only', () => {
    const store = new ParameterStore([{ shape: [3] }, { shape: [2], requiresGrad: false }, { shape: [4] }]);
    const frozenView = store.gradOf(store.params[1]!);
    frozenView.fill(9);
    const opt = new Adam(store.params);
    const seen: number[][] = [];
    for (let step = 0; step < 3; step++) {
      opt.zeroGrad();
      store.attachGrads();
      accumulate(store);
      seen.push([...store.params[0]!.grad!, ...store.params[2]!.grad!]);
      opt.step();
    }
    expect(seen).toEqual([new Array(7).fill(1), new Array(7).fill(1), new Array(7).fill(1)]);
    expect(store.params[1]!.grad).toBeNull();
    expect(Array.from(frozenView)).toEqual([9, 9]);
  });

  it('with { zero: false } leaves the views as they are, for a backward that overwrites them', () => {
    const store = new ParameterStore([{ shape: [3] }]);
    store.grads.set([1, 2, 3]);
    store.attachGrads({ zero: false });
    expect(Array.from(store.params[0]!.grad!)).toEqual([1, 2, 3]);
    store.attachGrads();
    expect(Array.from(store.params[0]!.grad!)).toEqual([0, 0, 0]);
  });

  it('rejects unknown options and a non-boolean zero', () => {
    const store = new ParameterStore([{ shape: [3] }]);
    store.grads.set([1, 2, 3]);
    expect(() => store.attachGrads({ zero: 0 } as never)).toThrow(coded('TypeError', 'ERR_OPTION', /zero must be a boolean/));
    expect(() => store.attachGrads({ zeros: true } as never)).toThrow(coded('TypeError', 'ERR_OPTION', /did you mean zero\?/));
    expect(Array.from(store.grads)).toEqual([1, 2, 3]);
  });
});

describe('printing an optimizer', () => {
  it('console.log, util.inspect and String show PyTorch\'s repr: the class, then each group\'s sorted hyperparameters and parameter count', () => {
    const w = new Parameter(new Float32Array(6), { shape: [2, 3] });
    const b = new Parameter(new Float32Array(3));
    const opt = new AdamW([{ params: [w, b] }, { params: [new Parameter(new Float32Array(1))], lr: 0.5, betas: [0.8, 0.9] }]);
    // PyTorch separates the groups with an empty line, as here.
    const expected = [
      'AdamW (',
      'Parameter Group 0',
      '    params: 2 parameters (9 elements)',
      '    amsgrad: false',
      '    betas: [0.9, 0.999]',
      '    decoupledWeightDecay: true',
      '    eps: 1e-8',
      '    lr: 0.001',
      '    maximize: false',
      '    min8bitSize: 4096',
      '    stateDtype: "float32"',
      '    weightDecay: 0.01',
      '',
      'Parameter Group 1',
      '    params: 1 parameter (1 element)',
      '    amsgrad: false',
      '    betas: [0.8, 0.9]',
      '    decoupledWeightDecay: true',
      '    eps: 1e-8',
      '    lr: 0.5',
      '    maximize: false',
      '    min8bitSize: 4096',
      '    stateDtype: "float32"',
      '    weightDecay: 0.01',
      ')',
    ];
    expect(String(opt).split('\n')).toEqual(expected);
    expect(inspect(opt)).toBe(String(opt));
    expect(`${opt}`).toBe(String(opt));
    // A Console of our own: vitest replaces the global one.
    let printed = '';
    const stdout = new Writable({ write: (chunk, _encoding, done) => void ((printed += String(chunk)), done()) });
    new Console({ stdout }).log(opt);
    expect(printed).toBe(`${String(opt)}\n`);
  });
});

describe('reading state after its buffer was transferred away', () => {
  afterEach(() => vi.restoreAllMocks());

  it('stateDict() throws ERR_STATE naming the entry, as step(), stepAsync() and explain() do', async () => {
    const { w, b, opt } = model();
    w.grad = Float32Array.from([1, 1, 1]);
    b.grad = Float32Array.from([1, 1]);
    opt.step();
    const state = f32State(opt.state.get(w));
    structuredClone(state.expAvg.buffer, { transfer: [state.expAvg.buffer as ArrayBuffer] });
    const err = coded('SimdAdamError', 'ERR_STATE', /detached: was a state buffer transferred\?/);
    expect(() => opt.stateDict()).toThrow(err);
    expect(() => opt.stateDict()).toThrow(/stateDict\(\): state\[0\] \('w'\)/);
    expect(() => opt.step()).toThrow(err);
    await expect(opt.stepAsync()).rejects.toThrow(err);
    expect(() => opt.explain()).toThrow(err);
    expect(() => opt.stateDict()).toThrow(SimdAdamError);
  });
});

describe('the same habits in sloppy-mode CommonJS', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'sloppy', 'pytorch_habits.cjs'), join(root, 'src', 'index.ts')], {
    cwd: root,
    encoding: 'utf8',
  });
  const results = JSON.parse(out) as Record<string, { threw: boolean; name?: string; code?: string; message?: string } | unknown>;
  const threw = (key: string) => results[key] as { threw: boolean; name?: string; code?: string; message?: string };

  it('runs in sloppy mode, where a getter alone would be ignored', () => {
    expect(results.sloppy).toBe(true);
  });

  it('refuses p.data = array (and the other fixed members), keeping the array', () => {
    expect(threw('data')).toEqual(expect.objectContaining({ threw: true, name: 'TypeError', code: 'ERR_READONLY', message: expect.stringMatching(/p\.data\.set/) }));
    expect(results.dataKept).toBe(true);
    for (const key of ['name', 'shape', 'numel', 'label', 'paramGroups', 'defaults', 'nonFinite']) {
      expect(threw(key), key).toEqual(expect.objectContaining({ threw: true, name: 'TypeError', code: 'ERR_READONLY' }));
    }
  });

  it('refuses PyTorch spellings of members, read or assigned, naming the camelCase member', () => {
    expect(threw('requires_grad')).toEqual(expect.objectContaining({ threw: true, code: 'ERR_OPTION', message: expect.stringMatching(/requiresGrad/) }));
    expect(results.requiresGradKept).toBe(true);
    for (const [snake, camel] of [['param_groups', 'paramGroups'], ['zero_grad', 'zeroGrad'], ['state_dict', 'stateDict'], ['load_state_dict', 'loadStateDict'], ['add_param_group', 'addParamGroup']]) {
      for (const how of ['read', 'assign']) {
        expect(threw(`${how} ${snake}`), `${how} ${snake}`).toEqual(
          expect.objectContaining({ threw: true, name: 'TypeError', code: 'ERR_OPTION', message: expect.stringContaining(`did you mean ${camel}`) }),
        );
      }
    }
  });

  it('refuses a weight_decay group key at step(), nothing changed, and saves the real weightDecay', () => {
    expect(threw('weight_decay')).toEqual(expect.objectContaining({ threw: true, code: 'ERR_OPTION', message: expect.stringContaining('did you mean weightDecay?') }));
    expect(results.dataAfterStep).toEqual([1, 2, 3]);
    expect(results.savedWeightDecay).toBe(0);
  });
});
