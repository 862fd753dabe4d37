/** Hooks with PyTorch's calling order and return-value semantics. stateDict()/loadStateDict()
 * are not on this branch yet, so their hook runners are driven through a small subclass that
 * builds and loads a toy state dict the way those methods will. */
import { afterEach, describe, expect, it } from 'vitest';

import { Adam, Parameter, registerOptimizerStepPostHook, registerOptimizerStepPreHook, SimdAdamError, type HookHandle } from '../src/index.js';

const handles: HookHandle[] = [];
afterEach(() => handles.splice(0).forEach((h) => h.remove()));

function optimizer(): { opt: Adam; p: Parameter } {
  const p = new Parameter(new Float32Array([1, 2, 3]), { name: 'w' });
  p.grad = new Float32Array([0.1, 0.2, 0.3]);
  return { opt: new Adam([p], { lr: 0.1 }), p };
}

describe('step hooks', () => {
  it('run global pre, instance pre, the step, instance post, global post, in registration order', () => {
    const { opt, p } = optimizer();
    const log: string[] = [];
    const seen = () => `${p.data[0] === 1 ? 'before' : 'after'}`;
    handles.push(registerOptimizerStepPreHook((o) => void log.push(`global pre 1 ${o === opt} ${seen()}`)));
    opt.registerStepPreHook((o) => void log.push(`pre 1 ${o === opt} ${seen()}`));
    opt.registerStepPreHook(() => void log.push(`pre 2 ${seen()}`));
    handles.push(registerOptimizerStepPreHook(() => void log.push(`global pre 2 ${seen()}`)));
    handles.push(registerOptimizerStepPostHook(() => void log.push(`global post ${seen()}`)));
    opt.registerStepPostHook((o) => void log.push(`post 1 ${o === opt} ${seen()}`));
    opt.registerStepPostHook(() => void log.push(`post 2 ${seen()}`));
    opt.step();
    expect(log).toEqual([
      'global pre 1 true before',
      'global pre 2 before',
      'pre 1 true before',
      'pre 2 before',
      'post 1 true after',
      'post 2 after',
      'global post after',
    ]);
  });

  it('a pre hook can adjust hyperparameters before the step validates and uses them', () => {
    const { opt, p } = optimizer();
    opt.registerStepPreHook((o) => void (o.paramGroups[0]!.lr = 0));
    opt.step();
    expect(Array.from(p.data)).toEqual([1, 2, 3]);
  });

  it('ignores what a pre hook returns: step() has no arguments to replace', () => {
    const { opt } = optimizer();
    const log: number[] = [];
    opt.registerStepPreHook(() => log.push(1) as never);
    opt.step();
    expect(opt.state.get(opt.paramGroups[0]!.params[0]!)!.step).toBe(1);
  });

  it('remove() unregisters, is idempotent, and a hook removing itself mid-run does not disturb the run', () => {
    const { opt } = optimizer();
    const log: string[] = [];
    const a: HookHandle = opt.registerStepPreHook(() => {
      log.push('a');
      a.remove();
    });
    const b = opt.registerStepPreHook(() => void log.push('b'));
    handles.push(registerOptimizerStepPostHook(() => void log.push('g')));
    opt.step();
    b.remove();
    b.remove();
    handles[0]!.remove();
    opt.step();
    expect(log).toEqual(['a', 'b', 'g']);
    expect(a.id).not.toBe(b.id);
  });

  it('a throwing pre hook aborts the step before anything changes; a failed step runs no post hooks', () => {
    const { opt, p } = optimizer();
    const log: string[] = [];
    opt.registerStepPostHook(() => void log.push('post'));
    const boom = opt.registerStepPreHook(() => {
      throw new Error('boom');
    });
    expect(() => opt.step()).toThrow('boom');
    expect(Array.from(p.data)).toEqual([1, 2, 3]);
    expect(opt.state.size).toBe(0);
    boom.remove();
    p.grad = new Float32Array(2);
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_GRAD_LENGTH' }));
    expect(log).toEqual([]);
  });

  it('post hooks run after a step the non-finite guard skipped, not after one it refused by throwing', () => {
    const log: string[] = [];
    for (const nonFinite of ['skip', 'throw'] as const) {
      const p = new Parameter(new Float32Array(3));
      p.grad = new Float32Array([1, NaN, 2]);
      const opt = new Adam([p], { nonFinite });
      opt.registerStepPostHook(() => void log.push(nonFinite));
      try {
        opt.step();
      } catch (e) {
        expect(e).toBeInstanceOf(SimdAdamError);
      }
    }
    expect(log).toEqual(['skip']);
  });

  it('global hooks see every optimizer', () => {
    const seen: unknown[] = [];
    handles.push(registerOptimizerStepPreHook((o) => void seen.push(o)));
    const one = optimizer().opt;
    const two = optimizer().opt;
    one.step();
    two.step();
    expect(seen).toEqual([one, two]);
  });

  it('rejects a hook that is not a function with ERR_HOOK', () => {
    const { opt } = optimizer();
    expect(() => opt.registerStepPreHook(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_HOOK', name: 'TypeError' }));
    expect(() => registerOptimizerStepPostHook(null as never)).toThrow(TypeError);
  });
});

type ToyStateDict = { state: Record<string, unknown>; param_groups: unknown[]; [k: string]: unknown };

/** Drives the protected hook runners directly, with a toy state dict, to pin down their order
 * and return-value rules apart from stateDict()'s and loadStateDict()'s own validation. */
class Probe extends Adam {
  loaded: ToyStateDict | undefined;

  toyStateDict(): ToyStateDict {
    this.runStateDictPreHooks();
    return this.runStateDictPostHooks<ToyStateDict>({ state: {}, param_groups: [{ lr: this.paramGroups[0]!.lr }] });
  }

  toyLoad(sd: ToyStateDict): void {
    this.loaded = this.runLoadStateDictPreHooks({ ...sd });
    this.runLoadStateDictPostHooks();
  }
}

describe('state dict hooks', () => {
  const probe = () => new Probe([new Parameter(new Float32Array(2))]);

  it('pre hooks run first in order, prepend puts a hook first, and post hooks may replace the state dict', () => {
    const opt = probe();
    const log: string[] = [];
    opt.registerStateDictPreHook(() => void log.push('pre 1'));
    opt.registerStateDictPreHook(() => void log.push('pre 0'), { prepend: true });
    opt.registerStateDictPostHook((o, sd) => {
      log.push(`post 1 ${o === opt}`);
      return { ...sd, extra: 1 };
    });
    opt.registerStateDictPostHook((_, sd) => {
      log.push(`post 2 sees extra=${String(sd.extra)}`);
    });
    opt.registerStateDictPostHook(() => void log.push('post 0'), { prepend: true });
    const sd = opt.toyStateDict();
    expect(log).toEqual(['pre 0', 'pre 1', 'post 0', 'post 1 true', 'post 2 sees extra=1']);
    expect(sd).toEqual({ state: {}, param_groups: [{ lr: 1e-3 }], extra: 1 });
  });

  it('load pre hooks may replace the state dict to load; load post hooks run after loading', () => {
    const opt = probe();
    const log: string[] = [];
    opt.registerLoadStateDictPreHook((_, sd) => ({ ...sd, param_groups: [{ lr: 5 }] }));
    opt.registerLoadStateDictPreHook((_, sd) => void log.push(`pre sees ${JSON.stringify(sd.param_groups)}`));
    opt.registerLoadStateDictPostHook((o) => void log.push(`post ${o.loaded !== undefined}`));
    const h = opt.registerLoadStateDictPostHook(() => void log.push('first'), { prepend: true });
    opt.toyLoad({ state: {}, param_groups: [{ lr: 1 }] });
    expect(opt.loaded!.param_groups).toEqual([{ lr: 5 }]);
    expect(log).toEqual(['pre sees [{"lr":5}]', 'first', 'post true']);
    h.remove();
  });

  it('a hook returning something other than an object or undefined is an ERR_HOOK TypeError', () => {
    const opt = probe();
    opt.registerStateDictPostHook(() => 3 as never);
    expect(() => opt.toyStateDict()).toThrow(expect.objectContaining({ code: 'ERR_HOOK', name: 'TypeError' }));
    const other = probe();
    other.registerLoadStateDictPreHook(() => null as never);
    expect(() => other.toyLoad({ state: {}, param_groups: [] })).toThrow(/must return a state dict object or undefined, got null/);
  });

  it('checks the prepend option by name and type', () => {
    const opt = probe();
    expect(() => opt.registerStateDictPreHook(() => undefined, { prepend: 1 as never })).toThrow(/prepend must be a boolean/);
    expect(() => opt.registerStateDictPreHook(() => undefined, { prepnd: true } as never)).toThrow(/did you mean prepend\?/);
  });
});

describe("state dict hooks on a real optimizer's stateDict() and loadStateDict()", () => {
  function stepped() {
    const p = new Parameter(new Float32Array([1, 2, 3]), { name: 'w' });
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = new Float32Array([0.1, 0.2, 0.3]);
    opt.step();
    return { p, opt };
  }

  it('run pre hooks before building and let a post hook replace what stateDict() returns', () => {
    const { opt } = stepped();
    const calls: string[] = [];
    opt.registerStateDictPreHook(() => void calls.push('pre'));
    opt.registerStateDictPostHook((_, sd) => {
      calls.push('post');
      return { ...sd, note: 'added by a hook' };
    });
    const sd = opt.stateDict() as unknown as Record<string, unknown>;
    expect(calls).toEqual(['pre', 'post']);
    expect(sd.note).toBe('added by a hook');
    expect(Object.keys(sd.state as object)).toEqual(['0']);
  });

  it('let a load pre hook replace the state dict to load, on a shallow copy, and run post hooks after the load', () => {
    const { p, opt } = stepped();
    const saved = opt.stateDict();
    const calls: string[] = [];
    opt.registerLoadStateDictPreHook((_, sd) => {
      calls.push('pre');
      const groups = (sd.param_groups as Array<Record<string, unknown>>).map((g) => ({ ...g, lr: 0.5 }));
      sd.param_groups = groups; // edits the copy, not the caller's object
      return sd;
    });
    opt.registerLoadStateDictPostHook((o) => void calls.push(`post lr=${o.paramGroups[0]!.lr}`));
    opt.loadStateDict(saved);
    expect(calls).toEqual(['pre', 'post lr=0.5']);
    expect((saved.param_groups[0] as { lr: number }).lr).toBe(0.1);
    expect(opt.state.get(p)!.step).toBe(1);
  });

  it('stop calling a hook once its handle is removed', () => {
    const { opt } = stepped();
    let count = 0;
    const handle = opt.registerStateDictPreHook(() => void count++);
    opt.stateDict();
    handle.remove();
    opt.stateDict();
    expect(count).toBe(1);
  });
});
