/**
 * Reduced-precision state through the public API: the option and its errors, the state views
 * and their size, state dicts (JSON included) that keep codes and bits exactly, loadStateDict's
 * conversions between formats, dequantizeStateDict, checkpoint files, and explain().
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, dequantizeStateDict, Parameter, readStateDict, SimdAdamError, writeStateDict, type AdamState, type StateDtype } from '../src/index.js';
import { dequantizeQ8, fromBf16, quantizeQ8, toBf16 } from '../src/reference/adam_lowbit.js';
import { QMAP_SIGNED } from '../src/reference/qmaps.js';

const dir = mkdtempSync(join(tmpdir(), 'simd-adam-lowbit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(sizes: number[], seed = 1): Parameter[] {
  return sizes.map((n, k) => {
    const p = new Parameter(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k + seed)), { name: `p${k}` });
    p.grad = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11 + k * seed) * 1e-2);
    return p;
  });
}

/** A state dict as PyTorch would hold it: no state_dtype or min_8bit_size in its groups, so
 * loading keeps the optimizer's own format (a dict that has them sets the format, as every
 * hyperparameter it holds does). */
function withoutFormat<T extends { param_groups: object[] }>(sd: T): T {
  return { ...sd, param_groups: sd.param_groups.map((g) => Object.fromEntries(Object.entries(g).filter(([k]) => k !== 'state_dtype' && k !== 'min_8bit_size'))) };
}

function stateBytes(s: AdamState): number {
  const moments = [s.expAvg, s.expAvgSq, ...(s.maxExpAvgSq ? [s.maxExpAvgSq] : [])];
  return moments.reduce((sum, m) => sum + (m instanceof Float32Array || m instanceof Uint16Array ? m.byteLength : m.codes.byteLength + m.scale.byteLength), 0);
}

describe('stateDtype', () => {
  it('stores bfloat16 moments as Uint16Array bits: 4 bytes of state per parameter, 6 with amsgrad', () => {
    for (const amsgrad of [false, true]) {
      const [p] = model([1000]);
      const opt = new Adam([p!], { stateDtype: 'bfloat16', amsgrad });
      opt.step();
      const s = opt.state.get(p!)!;
      expect(s.dtype).toBe('bfloat16');
      expect(s.expAvg).toBeInstanceOf(Uint16Array);
      expect(stateBytes(s) / p!.numel).toBe(amsgrad ? 6 : 4);
    }
  });

  it('stores 8-bit moments as codes and block scales, at most 2.05 bytes per parameter from min8bitSize on', () => {
    const [big, small] = model([4096 * 3 + 5, 100]);
    const opt = new Adam([big!, small!], { stateDtype: '8bit' });
    opt.step();
    const s = opt.state.get(big!)!;
    expect(s.dtype).toBe('8bit');
    if (s.dtype !== '8bit') return;
    expect(s.expAvg.codes).toBeInstanceOf(Uint8Array);
    expect(s.expAvg.scale.length).toBe(Math.ceil(big!.numel / 256));
    expect(stateBytes(s) / big!.numel).toBeLessThanOrEqual(2.05);
    expect(opt.state.get(small!)!.dtype).toBe('float32'); // below min8bitSize
  });

  it('stores every parameter of the group in 8 bits when min8bitSize is 0, scalars included', () => {
    const [a, b] = model([1, 300]);
    const opt = new Adam([a!, b!], { stateDtype: '8bit', min8bitSize: 0 });
    opt.step();
    expect([opt.state.get(a!)!.dtype, opt.state.get(b!)!.dtype]).toEqual(['8bit', '8bit']);
  });

  it('rejects a bad stateDtype or min8bitSize naming the option, and changes nothing', () => {
    const [p] = model([10]);
    expect(() => new Adam([p!], { stateDtype: 'fp8' as StateDtype })).toThrow(RangeError);
    expect(() => new Adam([p!], { stateDtype: 8 as unknown as StateDtype })).toThrow(/stateDtype must be one of float32, bfloat16, 8bit/);
    expect(() => new Adam([p!], { min8bitSize: -1 })).toThrow(RangeError);
    expect(() => new Adam([p!], { min8bitSize: 1.5 })).toThrow(/min8bitSize must be an integer >= 0, got 1.5/);
  });

  it('refuses a changed stateDtype once the group has state (ERR_STATE_DTYPE), leaving parameters and state alone', () => {
    const [p] = model([5000]);
    const opt = new Adam([p!], { stateDtype: '8bit' });
    opt.step();
    const before = p!.data.slice();
    opt.paramGroups[0]!.stateDtype = 'bfloat16';
    expect(() => opt.step()).toThrow(SimdAdamError);
    try {
      opt.step();
    } catch (error) {
      expect((error as SimdAdamError).code).toBe('ERR_STATE_DTYPE');
    }
    expect(p!.data).toEqual(before);
    expect(opt.state.get(p!)!.step).toBe(1);
  });

  it('refuses a changed stateDtype while a skipped parameter still holds state in the old one (ERR_STATE_DTYPE), changing nothing', () => {
    const [a, b] = model([5000, 5000]);
    const opt = new Adam([a!, b!], { stateDtype: '8bit' });
    const bGrad = b!.grad;
    b!.grad = null;
    opt.step(); // a has 8-bit state, b none
    opt.paramGroups[0]!.stateDtype = 'bfloat16';
    a!.grad = null; // a is skipped now, b steps for the first time
    b!.grad = bGrad;
    const before = [a!.data.slice(), b!.data.slice()];
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_STATE_DTYPE', message: expect.stringMatching(/parameter 0 .*as bfloat16 but its state is 8bit/) }));
    expect([a!.data, b!.data]).toEqual(before);
    expect(opt.state.get(b!)).toBeUndefined();
    expect(opt.state.get(a!)!.dtype).toBe('8bit');
    opt.paramGroups[0]!.stateDtype = '8bit'; // back to the format its state has: steps again
    opt.step();
    expect(opt.state.get(b!)!.dtype).toBe('8bit');
  });

  it('leaves a skipped parameter’s stored codes untouched, bit for bit', () => {
    const [a, b] = model([600, 600]);
    const opt = new Adam([a!, b!], { stateDtype: '8bit', min8bitSize: 1 });
    opt.step();
    const s = opt.state.get(b!)!;
    if (s.dtype !== '8bit') throw new Error('expected 8-bit state');
    const codes = s.expAvg.codes.slice(), scale = s.expAvg.scale.slice();
    b!.grad = null;
    opt.step();
    expect(s.expAvg.codes).toEqual(codes);
    expect(s.expAvg.scale).toEqual(scale);
  });
});

describe('state dicts of reduced state', () => {
  it('export bf16 bits and 8-bit codes with their group settings, and come back exactly through JSON', () => {
    const params = model([700, 5000, 3]);
    const opt = new AdamW([{ params: [params[0]!], stateDtype: 'bfloat16' }, { params: [params[1]!, params[2]!], stateDtype: '8bit', amsgrad: true }]);
    for (let k = 0; k < 3; k++) opt.step();
    const sd = opt.stateDict();
    expect(sd.param_groups.map((g) => [g.state_dtype, g.min_8bit_size])).toEqual([['bfloat16', 4096], ['8bit', 4096]]);
    const json = JSON.parse(JSON.stringify(sd)) as { state: Record<string, Record<string, Record<string, unknown>>> };
    expect(json.state[0]!.exp_avg).toMatchObject({ dtype: 'bfloat16', shape: [700] });
    expect(json.state[1]!.exp_avg).toMatchObject({ dtype: '8bit', shape: [5000], signed: true });
    expect(json.state[1]!.max_exp_avg_sq).toMatchObject({ dtype: '8bit', signed: false });
    expect(json.state[2]!.exp_avg).toMatchObject({ shape: [3] }); // below min8bitSize: float32
    const copy = model([700, 5000, 3]);
    const back = new AdamW([{ params: [copy[0]!], stateDtype: 'bfloat16' }, { params: [copy[1]!, copy[2]!], stateDtype: '8bit', amsgrad: true }]);
    back.loadStateDict(json as never);
    expect(JSON.stringify(back.stateDict())).toBe(JSON.stringify(sd));
  });

  it('converts on load: a float32 state continues in 8 bits, quantized blockwise, and an 8-bit one in float32', () => {
    const [p] = model([1000]);
    const f32 = new Adam([p!]);
    f32.step();
    const sd = f32.stateDict();
    const [q] = model([1000]);
    const eight = new Adam([q!], { stateDtype: '8bit', min8bitSize: 1 });
    eight.loadStateDict(withoutFormat(sd));
    const s = eight.state.get(q!)!;
    if (s.dtype !== '8bit' || !(sd.state[0]!.exp_avg instanceof Float32Array)) throw new Error('expected 8-bit state');
    const expected = quantizeQ8(sd.state[0]!.exp_avg, true);
    expect(s.expAvg.codes).toEqual(expected.codes);
    expect(s.expAvg.scale).toEqual(expected.scale);
    const [r] = model([1000]);
    const again = new Adam([r!]);
    again.loadStateDict(withoutFormat(eight.stateDict()));
    const t = again.state.get(r!)!;
    expect(t.dtype).toBe('float32');
    expect(t.expAvg).toEqual(dequantizeQ8(s.expAvg, true));
  });

  it('converts bf16 into 8-bit through float32', () => {
    const [p] = model([512]);
    const bf = new Adam([p!], { stateDtype: 'bfloat16' });
    bf.step();
    const s = bf.state.get(p!)!;
    if (s.dtype !== 'bfloat16') throw new Error('expected bf16');
    const [q] = model([512]);
    const eight = new Adam([q!], { stateDtype: '8bit', min8bitSize: 0 });
    eight.loadStateDict(withoutFormat(bf.stateDict()));
    const t = eight.state.get(q!)!;
    if (t.dtype !== '8bit') throw new Error('expected 8-bit');
    expect(t.expAvgSq.codes).toEqual(quantizeQ8(Float32Array.from(s.expAvgSq, fromBf16), false).codes);
  });

  it('dequantizeStateDict gives a plain float32 state dict that a float32 optimizer loads as the same values', () => {
    const [p] = model([5000]);
    const opt = new Adam([p!], { stateDtype: '8bit' });
    opt.step();
    const plain = dequantizeStateDict(opt.stateDict());
    expect(plain.param_groups[0]).not.toHaveProperty('state_dtype');
    expect(plain.state[0]!.exp_avg).toBeInstanceOf(Float32Array);
    expect(JSON.parse(JSON.stringify(plain.state[0]!.exp_avg))).toHaveProperty('data');
    const s = opt.state.get(p!)!;
    if (s.dtype !== '8bit') throw new Error('expected 8-bit');
    expect(plain.state[0]!.exp_avg).toEqual(dequantizeQ8(s.expAvg, true));
  });

  it('dequantizeStateDict refuses what is not an Adam state dict with a coded ERR_STATE_DICT, and leaves its input as it was', () => {
    const [p] = model([300]);
    const opt = new Adam([p!], { stateDtype: '8bit', min8bitSize: 0 });
    opt.step();
    const sd = JSON.parse(JSON.stringify(opt.stateDict())) as { state: Record<string, Record<string, unknown>>; param_groups: object[] };
    const withEntry = (f: (e: Record<string, unknown>) => void) => {
      const copy = structuredClone(sd);
      f(copy.state[0]!);
      return copy;
    };
    const cases: Array<[unknown, new (...a: never[]) => Error, RegExp]> = [
      [null, TypeError, /expected a state dict \{ state, param_groups \}, got null/],
      [{}, TypeError, /param_groups must be an array/],
      [{ state: {}, param_groups: 3 }, TypeError, /param_groups must be an array, got 3/],
      [{ ...sd, state: null }, TypeError, /state must be an object keyed by parameter id/],
      [{ ...sd, state: { 0: null } }, TypeError, /state\[0\] must be an object, got null/],
      [withEntry((e) => delete e.exp_avg_sq), SimdAdamError, /state\[0\]: state key 'exp_avg_sq' is missing/],
      [withEntry((e) => delete e.step), SimdAdamError, /state\[0\]: state key 'step' is missing/],
      [withEntry((e) => (e.expAvg = e.exp_avg)), SimdAdamError, /unknown state key 'expAvg'/],
      [withEntry((e) => ((e.exp_avg as { shape: number[] }).shape = [7])), RangeError, /exp_avg.shape \[7\] holds 7 elements but its data has 300/],
    ];
    for (const [bad, cls, message] of cases) {
      const before = JSON.stringify(bad);
      let caught: unknown;
      try {
        dequantizeStateDict(bad as never);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(message)).toBeInstanceOf(cls);
      expect(caught).toMatchObject({ code: 'ERR_STATE_DICT', message: expect.stringMatching(message) });
      expect(JSON.stringify(bad)).toBe(before);
    }
    // The same dict, well formed, still converts; and a float32 entry keeps its shape.
    const w = new Parameter(new Float32Array(6).fill(1), { name: 'w', shape: [2, 3] });
    const f32 = new Adam([w]);
    w.grad = new Float32Array(6).fill(0.5);
    f32.step();
    expect(JSON.parse(JSON.stringify(dequantizeStateDict(f32.stateDict()).state[0]!.exp_avg)).shape).toEqual([2, 3]);
    expect(dequantizeStateDict(sd as never).state[0]!.exp_avg).toHaveLength(300);
  });

  it('refuses an 8-bit moment whose scales do not cover its blocks, or quantized with another map', () => {
    const [p] = model([300]);
    const opt = new Adam([p!], { stateDtype: '8bit', min8bitSize: 0 });
    opt.step();
    const sd = JSON.parse(JSON.stringify(opt.stateDict())) as { state: Record<string, Record<string, Record<string, unknown>>> };
    const bad = structuredClone(sd);
    (bad.state[0]!.exp_avg!.scale as number[]).pop();
    expect(() => opt.loadStateDict(bad as never)).toThrow(/exp_avg.scale has 1 elements but blocks of 256 elements need 2/);
    const swapped = structuredClone(sd);
    swapped.state[0]!.exp_avg!.signed = false;
    expect(() => opt.loadStateDict(swapped as never)).toThrow(/unsigned map/);
  });

  it('writes BF16 tensors and 8-bit codes/scale/qmap tensors to a checkpoint file, and reads them back exactly', async () => {
    const params = model([700, 5000]);
    const opt = new Adam([{ params: [params[0]!], stateDtype: 'bfloat16' }, { params: [params[1]!], stateDtype: '8bit' }]);
    opt.step();
    const file = join(dir, 'lowbit.safetensors');
    await writeStateDict(file, opt.stateDict());
    const back = await readStateDict(file);
    const copy = model([700, 5000]);
    const other = new Adam([{ params: [copy[0]!], stateDtype: 'bfloat16' }, { params: [copy[1]!], stateDtype: '8bit' }]);
    other.loadStateDict(back);
    expect(JSON.stringify(other.stateDict())).toBe(JSON.stringify(opt.stateDict()));
    const names = Object.keys(back.state[1]!);
    expect(names).toEqual(expect.arrayContaining(['step', 'exp_avg', 'exp_avg_sq']));
    expect(back.state[1]!.exp_avg).toMatchObject({ dtype: '8bit', shape: [5000] });
  });

  it('streams BF16 and 8-bit state from the live optimizer byte for byte as from its state dict', async () => {
    const params = model([700, 5000, 300]);
    const groups = (ps: Parameter[]) => [
      { params: [ps[0]!], stateDtype: 'bfloat16' as const, amsgrad: true },
      { params: [ps[1]!, ps[2]!], stateDtype: '8bit' as const },
    ];
    const opt = new Adam(groups(params));
    opt.step();
    const [live, copied] = [join(dir, 'live.safetensors'), join(dir, 'copied.safetensors')];
    await writeStateDict(live, opt);
    await writeStateDict(copied, opt.stateDict());
    expect(Buffer.compare(readFileSync(live), readFileSync(copied))).toBe(0);
    const copy = model([700, 5000, 300]);
    const other = new Adam(groups(copy));
    other.loadStateDict(await readStateDict(live));
    expect(JSON.stringify(other.stateDict())).toBe(JSON.stringify(opt.stateDict()));
  });
});

describe('explain() and the zero-grad warning over reduced state', () => {
  it('tells momentum from a no-op when the grad is all zero, reading the codes', () => {
    const [p] = model([600]);
    const opt = new Adam([p!], { stateDtype: '8bit', min8bitSize: 0 });
    opt.step();
    p!.grad!.fill(0);
    expect(opt.explain()[0]!.reason).toBe('zero-grad-momentum');
    const [q] = model([600]);
    q!.grad!.fill(0);
    const fresh = new Adam([q!], { stateDtype: 'bfloat16' });
    fresh.step(); // moments stay zero: nothing moves
    expect(fresh.explain()[0]!.reason).toBe('zero-grad-no-op');
  });

  it('fresh 8-bit state reads as +0, so a first step equals float32’s first step for the parameter', () => {
    expect(QMAP_SIGNED[127]).toBe(0);
    const [a] = model([4096]);
    const [b] = model([4096]);
    new Adam([a!], { stateDtype: '8bit' }).step();
    new Adam([b!]).step();
    expect(a!.data).toEqual(b!.data);
    expect(toBf16(0)).toBe(0);
  });
});
