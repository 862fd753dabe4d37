/**
 * Checkpoint files: bit-exact round trips, a layout any spec reader opens, atomic writes, and a
 * reader that meets every corrupted file with a coded error.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, Parameter, readStateDict, SimdAdamError, writeStateDict, type AdamStateDict } from '../src/index.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng, SPECIALS } from './support/random.js';
import { buildFile, f32, f32Data, f64Data, i64, i64Data, parseSpec } from './support/safetensors.js';
import { f32State, f32Tensor } from './support/float32_state.js';

const work = mkdtempSync(join(tmpdir(), 'simd-adam-ckpt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'c') => join(work, `${name}-${counter++}.safetensors`);

/** Two groups (the second amsgrad), three named params, stepped with hostile values (or finite
 * ones, for JSON). */
function trained(steps = 3, specials: readonly number[] = SPECIALS) {
  const params = [
    new Parameter(fillValues(new Float32Array(12), rng(1)), { name: 'fc.weight', shape: [3, 4] }),
    new Parameter(fillValues(new Float32Array(3), rng(2)), { name: 'fc.bias' }),
    new Parameter(fillValues(new Float32Array(5), rng(3)), { name: 'head' }),
  ];
  const groups = () => [{ params: [params[0]!, params[1]!] }, { params: [params[2]!], amsgrad: true, weightDecay: 0.01 }];
  const opt = new Adam(groups(), { lr: 0.01 });
  for (let s = 0; s < steps; s++) {
    params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(10 * s + i), specials)));
    opt.step();
  }
  return { opt, params, groups };
}

function expectSameStateDict(a: AdamStateDict, b: AdamStateDict): void {
  expect(JSON.stringify(b.param_groups)).toBe(JSON.stringify(a.param_groups));
  expect(Object.keys(b.state)).toEqual(Object.keys(a.state));
  for (const [id, entry] of Object.entries(a.state)) {
    const other = b.state[Number(id)]!;
    expect(other.step).toBe(entry.step);
    for (const key of ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const) {
      expect(other[key] === undefined).toBe(entry[key] === undefined);
      if (entry[key]) expect(firstBitDifference(f32Tensor(other[key]), f32Tensor(entry[key])), `${id}.${key}`).toBeNull();
    }
  }
}

describe('writeStateDict() and readStateDict()', () => {
  it('round-trip a state dict bit for bit, NaN, ±Infinity and -0 included', async () => {
    const { opt } = trained();
    const sd = opt.stateDict();
    expect(Array.from(f32Tensor(sd.state[2]!.exp_avg)).some((v) => !Number.isFinite(v))).toBe(true);
    const path = fresh();
    await writeStateDict(path, sd);
    const back = await readStateDict(path);
    expectSameStateDict(sd, back as AdamStateDict);
    expect(back.params).toBeUndefined();
    expect(back.scheduler).toBeUndefined();
  });

  it("carry the model's parameters and a scheduler's state dict, so one file resumes a run", async () => {
    const { opt, params } = trained();
    const scheduler = { step_size: 30, gamma: 0.1, base_lrs: [0.01, 0.01], last_epoch: 3, _step_count: 4, _last_lr: [0.01, 0.01] };
    const path = fresh();
    await writeStateDict(path, opt.stateDict(), { params, scheduler });
    const back = await readStateDict(path);
    expect(back.scheduler).toEqual(scheduler);
    expect(Object.keys(back.params!)).toEqual(['fc.weight', 'fc.bias', 'head']);
    params.forEach((p) => {
      expect(back.params![p.name!]!.shape).toEqual(p.shape);
      expect(firstBitDifference(back.params![p.name!]!.data, p.data)).toBeNull();
    });
    const again = fresh();
    await writeStateDict(again, back, { params: back.params!, scheduler: back.scheduler! });
    expect(readFileSync(again).equals(readFileSync(path)), 'what was read writes back byte for byte').toBe(true);
  });

  it('write what the parameters held at the call, even if a step runs while the write is in flight', async () => {
    const { opt, params } = trained(1, []);
    const held = params.map((p) => p.data.slice());
    const path = fresh();
    const writing = writeStateDict(path, opt.stateDict(), { params });
    params.forEach((p) => (p.grad = new Float32Array(p.numel).fill(1)));
    opt.step();
    await writing;
    const back = await readStateDict(path);
    params.forEach((p, i) => expect(firstBitDifference(back.params![p.name!]!.data, held[i]!)).toBeNull());
  });

  it('lay the file out exactly as the safetensors spec says, readable by an independent reader', async () => {
    const { opt, params } = trained();
    const sd = opt.stateDict();
    const path = fresh();
    await writeStateDict(path, sd, { params });
    const spec = parseSpec(readFileSync(path));
    expect(spec.headerLength % 8).toBe(0);
    expect(JSON.parse(spec.metadata!.param_groups!)).toEqual(JSON.parse(JSON.stringify(sd.param_groups)));
    const steps = [...spec.tensors].filter(([name]) => name.endsWith('.step'));
    expect(steps.map(([name]) => name)).toEqual(['state.0.step', 'state.1.step', 'state.2.step']);
    for (const [, t] of steps) {
      expect(t).toMatchObject({ dtype: 'I64', shape: [] });
      expect(i64(t)).toBe(3n);
    }
    for (const [name, t] of spec.tensors) expect(t.begin % (t.dtype === 'I64' ? 8 : 4), `${name} alignment`).toBe(0);
    const expAvg = spec.tensors.get('state.0.exp_avg')!;
    expect(expAvg).toMatchObject({ dtype: 'F32', shape: [3, 4] });
    expect(firstBitDifference(f32(expAvg), f32Tensor(sd.state[0]!.exp_avg))).toBeNull();
    expect(firstBitDifference(f32(spec.tensors.get('state.2.max_exp_avg_sq')!), f32Tensor(sd.state[2]!.max_exp_avg_sq)!)).toBeNull();
    expect(spec.tensors.get('param.fc.weight')).toMatchObject({ dtype: 'F32', shape: [3, 4] });
    expect(firstBitDifference(f32(spec.tensors.get('param.head')!), params[2]!.data)).toBeNull();
  });

  it('keep step counts exact far beyond 2^24, as I64', async () => {
    for (const step of [2 ** 24 + 1, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      const p = new Parameter(new Float32Array(2));
      const opt = new Adam([p]);
      opt.loadStateDict({ state: { 0: { step, exp_avg: [0, 0], exp_avg_sq: [0, 0] } }, param_groups: [{ params: [0] }] });
      const path = fresh();
      await writeStateDict(path, opt.stateDict());
      expect(i64(parseSpec(readFileSync(path)).tensors.get('state.0.step')!)).toBe(BigInt(step));
      expect((await readStateDict(path)).state[0]!.step).toBe(step);
    }
  });

  it('read a step stored as a 0-d F64 tensor', async () => {
    const path = fresh();
    const data = new Uint8Array([...f64Data(7), ...f32Data([1, 2]), ...f32Data([3, 4])]);
    writeFileSync(path, buildFile({ __metadata__: { param_groups: '[{"params":[0]}]' }, 'state.0.step': { dtype: 'F64', shape: [], data_offsets: [0, 8] }, 'state.0.exp_avg': { dtype: 'F32', shape: [2], data_offsets: [8, 16] }, 'state.0.exp_avg_sq': { dtype: 'F32', shape: [2], data_offsets: [16, 24] } }, data));
    const p = new Parameter(new Float32Array(2));
    const opt = new Adam([p]);
    opt.loadStateDict(await readStateDict(path));
    expect(opt.state.get(p)).toMatchObject({ step: 7, expAvg: new Float32Array([1, 2]), expAvgSq: new Float32Array([3, 4]) });
  });

  it('write a JSON-parsed state dict, tensors as { shape, data }, with their shapes', async () => {
    const { opt } = trained(3, []);
    const json = JSON.parse(JSON.stringify(opt.stateDict()));
    const path = fresh();
    await writeStateDict(path, json);
    expect(parseSpec(readFileSync(path)).tensors.get('state.0.exp_avg')!.shape).toEqual([3, 4]);
  });

  it('resume stepping bit for bit: stateDict → write → read → loadStateDict → step equals stepping the original', async () => {
    const config = fc.record({
      sizes: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 4 }),
      split: fc.integer({ min: 0, max: 4 }),
      amsgrad: fc.tuple(fc.boolean(), fc.boolean()),
      maximize: fc.boolean(),
      decoupled: fc.boolean(),
      weightDecay: fc.constantFrom(0, 0.01, 0.3),
      lr: fc.double({ min: 1e-5, max: 0.5, noNaN: true }),
      before: fc.integer({ min: 0, max: 4 }),
      after: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer({ min: 1, max: 2 ** 30 }),
      skip: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(config, async (c) => {
        const make = (data: Float32Array[]) => {
          const params = data.map((d, i) => new Parameter(d, { name: `p${i}` }));
          const split = Math.min(c.split, params.length);
          const specs = [params.slice(0, split), params.slice(split)]
            .map((ps, gi) => ({ params: ps, amsgrad: c.amsgrad[gi]! }))
            .filter((g) => g.params.length > 0);
          const opt = new Adam(specs, { lr: c.lr, maximize: c.maximize, decoupledWeightDecay: c.decoupled, weightDecay: c.weightDecay });
          return { params, opt };
        };
        const next = rng(c.seed);
        const original = make(c.sizes.map((n) => fillValues(new Float32Array(n), next)));
        const stepWith = (run: ReturnType<typeof make>, s: number) => {
          run.params.forEach((p, i) => (p.grad = c.skip[i] && s % 2 === 1 ? null : fillValues(new Float32Array(p.numel), rng(c.seed + 97 * s + i), SPECIALS)));
          run.opt.step();
        };
        for (let s = 0; s < c.before; s++) stepWith(original, s);
        const path = fresh('prop');
        await writeStateDict(path, original.opt.stateDict(), { params: original.params });
        const checkpoint = await readStateDict(path);
        const resumed = make(original.params.map((p) => checkpoint.params![p.name!]!.data));
        resumed.opt.loadStateDict(checkpoint);
        for (let s = c.before; s < c.before + c.after; s++) {
          stepWith(original, s);
          stepWith(resumed, s);
        }
        original.params.forEach((p, i) => {
          expect(firstBitDifference(resumed.params[i]!.data, p.data), `param ${i}`).toBeNull();
          const a = original.opt.state.get(p) && f32State(original.opt.state.get(p));
          const b = resumed.opt.state.get(resumed.params[i]!) && f32State(resumed.opt.state.get(resumed.params[i]!));
          expect(b?.step).toBe(a?.step);
          if (a && b) {
            expect(firstBitDifference(b.expAvg, a.expAvg)).toBeNull();
            expect(firstBitDifference(b.expAvgSq, a.expAvgSq)).toBeNull();
            expect(b.maxExpAvgSq === undefined).toBe(a.maxExpAvgSq === undefined);
            if (a.maxExpAvgSq) expect(firstBitDifference(b.maxExpAvgSq!, a.maxExpAvgSq)).toBeNull();
          }
        });
        rmSync(path);
      }),
      { numRuns: 60 },
    );
  });
});

describe('atomic writes', () => {
  const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  it('an invalid state dict is refused before the disk is touched; the old file stays', async () => {
    const dir = join(work, 'atomic-a');
    mkdirSync(dir);
    const path = join(dir, 'run.safetensors');
    const { opt } = trained();
    await writeStateDict(path, opt.stateDict());
    const before = readFileSync(path);
    const bad = opt.stateDict();
    (bad.state[1] as { exp_avg: unknown }).exp_avg = [1, null];
    await expect(writeStateDict(path, bad)).rejects.toMatchObject({ code: 'ERR_STATE_DICT' });
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  });

  it('a write that fails after the temporary file was written removes it and reports ERR_CHECKPOINT', async () => {
    const dir = join(work, 'atomic-b');
    mkdirSync(join(dir, 'run.safetensors', 'occupied'), { recursive: true });
    const { opt } = trained();
    const error = await writeStateDict(join(dir, 'run.safetensors'), opt.stateDict()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimdAdamError);
    expect(error).toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(/could not write .*run.safetensors/) });
    expect(leftovers(dir)).toEqual([]);
    expect(readdirSync(join(dir, 'run.safetensors'))).toEqual(['occupied']);
  });

  it('a writer killed at any moment leaves a complete checkpoint at the path, old or new', async () => {
    const dir = join(work, 'crash');
    mkdirSync(dir);
    const path = join(dir, 'run.safetensors');
    const script = join(dirname(fileURLToPath(import.meta.url)), 'support', 'crash_writer.ts');
    for (const delay of [0, 15, 40]) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      await new Promise((resolve) => setTimeout(resolve, delay));
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const back = await readStateDict(path);
      const fill = back.params!.w!.data[0];
      expect([1, 2]).toContain(fill);
      for (const t of [back.params!.w!.data, back.state[0]!.exp_avg as Float32Array, back.state[0]!.exp_avg_sq as Float32Array]) {
        expect(t.every((v) => v === fill), 'one write, whole').toBe(true);
      }
    }
  }, 60_000);

  it('a missing directory is ERR_CHECKPOINT', async () => {
    const { opt } = trained();
    await expect(writeStateDict(join(work, 'no', 'such', 'dir.safetensors'), opt.stateDict())).rejects.toMatchObject({ code: 'ERR_CHECKPOINT' });
  });
});

describe('writeStateDict() with bad arguments', () => {
  const { opt, params } = trained(1);
  it.each([
    { name: 'a path that is not a string', call: () => writeStateDict(42 as never, opt.stateDict()), error: TypeError, code: 'ERR_CHECKPOINT', message: /path must be a non-empty string, got 42/ },
    { name: 'an unnamed parameter', call: () => writeStateDict(fresh(), opt.stateDict(), { params: [new Parameter(new Float32Array(1))] }), error: SimdAdamError, code: 'ERR_CHECKPOINT', message: /params\[0\] has no name/ },
    { name: 'two parameters with one name', call: () => writeStateDict(fresh(), opt.stateDict(), { params: [params[0]!, new Parameter(new Float32Array(1), { name: 'fc.weight' })] }), error: SimdAdamError, code: 'ERR_CHECKPOINT', message: /two parameters are named 'fc.weight'/ },
    { name: 'a misspelt extra', call: () => writeStateDict(fresh(), opt.stateDict(), { schedular: {} } as never), error: TypeError, code: 'ERR_OPTION', message: /unknown option 'schedular' \(did you mean scheduler\?\)/ },
    { name: 'a scheduler that is not an object', call: () => writeStateDict(fresh(), opt.stateDict(), { scheduler: 'StepLR' as never }), error: TypeError, code: 'ERR_CHECKPOINT', message: /scheduler must be a scheduler's state dict/ },
    { name: 'a state entry without step', call: () => writeStateDict(fresh(), { state: { 0: { exp_avg: [1] } }, param_groups: [{ params: [0] }] }), error: SimdAdamError, code: 'ERR_STATE_DICT', message: /state\[0\]: state key 'step' is missing/ },
  ])('$name → $code', async ({ call, error, code, message }) => {
    const caught = await call().catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(error);
    expect(caught).toMatchObject({ code });
    expect((caught as Error).message).toMatch(message);
  });
});

/** A small valid file, built by hand: one parameter of two elements with state. */
interface Spec {
  name: string;
  dtype: string;
  shape: unknown;
  bytes: Uint8Array;
  offsets?: unknown;
}
const GROUPS = JSON.stringify([{ params: [0], lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false }]);
function base(): Spec[] {
  return [
    { name: 'state.0.step', dtype: 'I64', shape: [], bytes: i64Data(3n) },
    { name: 'state.0.exp_avg', dtype: 'F32', shape: [2], bytes: f32Data([0.5, -0.5]) },
    { name: 'state.0.exp_avg_sq', dtype: 'F32', shape: [2], bytes: f32Data([0.25, 0.25]) },
  ];
}
function assemble(tensors: Spec[], metadata: unknown = { param_groups: GROUPS }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: t.offsets ?? [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  return buildFile(header, new Uint8Array(tensors.flatMap((t) => [...t.bytes])));
}
const edit = (i: number, change: Partial<Spec>) => assemble(base().map((t, k) => (k === i ? { ...t, ...change } : t)));
const valid = assemble(base());
const withLength = (length: bigint) => {
  const out = valid.slice();
  new DataView(out.buffer).setBigUint64(0, length, true);
  return out;
};
const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));

async function load(bytes: Uint8Array): Promise<void> {
  const path = fresh('corrupt');
  writeFileSync(path, bytes);
  const opt = new Adam([new Parameter(new Float32Array(2))]);
  opt.loadStateDict(await readStateDict(path));
}

const corrupted: Array<{ name: string; bytes: () => Uint8Array; code?: 'ERR_STATE_DICT'; message: RegExp }> = [
  { name: 'an empty file', bytes: () => new Uint8Array(0), message: /fewer than the 8 of the header length/ },
  { name: 'truncated inside the header length', bytes: () => valid.subarray(0, 5), message: /fewer than the 8/ },
  { name: 'truncated just after the header length', bytes: () => valid.subarray(0, 8), message: /header length says \d+ bytes but only 0 follow/ },
  { name: 'truncated inside the header', bytes: () => valid.subarray(0, 40), message: /header length says \d+ bytes but only 32 follow/ },
  { name: 'truncated at the end of the header', bytes: () => valid.subarray(0, headerEnd), message: /tensors? .*fall outside the 0-byte data section|data_offsets/ },
  { name: 'truncated inside the data', bytes: () => valid.subarray(0, headerEnd + 12), message: /fall outside the 12-byte data section/ },
  { name: 'one byte short', bytes: () => valid.subarray(0, valid.byteLength - 1), message: /fall outside the 23-byte data section/ },
  { name: 'a header length beyond the file', bytes: () => withLength(BigInt(valid.byteLength)), message: /header length says \d+ bytes but only \d+ follow/ },
  { name: 'a header length of 2^63', bytes: () => withLength(2n ** 63n), message: /header length says 9223372036854775808 bytes/ },
  { name: 'a header length of 2^64 − 1', bytes: () => withLength(2n ** 64n - 1n), message: /header length says 18446744073709551615 bytes/ },
  { name: 'a header length that cuts the JSON short', bytes: () => withLength(16n), message: /not valid UTF-8 JSON/ },
  { name: 'a header length of 0', bytes: () => withLength(0n), message: /the header must begin with '\{'/ },
  { name: 'a header that does not begin with {', bytes: () => buildFile(' {"__metadata__": {}}'), message: /the header must begin with '\{'/ },
  { name: 'a JSON null header', bytes: () => buildFile('null'), message: /the header must begin with '\{'/ },
  { name: 'bad JSON', bytes: () => buildFile('{"state.0.step": {"dtype": "I64",'), message: /not valid UTF-8 JSON/ },
  { name: 'invalid UTF-8 in the header', bytes: () => new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), message: /not valid UTF-8 JSON/ },
  { name: 'a JSON array header', bytes: () => buildFile('[1, 2, 3]'), message: /the header must begin with '\{'/ },
  { name: 'an unknown dtype', bytes: () => edit(1, { dtype: 'F31' }), message: /tensor 'state.0.exp_avg': unknown dtype "F31"/ },
  { name: 'a dtype that is not a string', bytes: () => edit(1, { dtype: 4 as never }), message: /unknown dtype 4/ },
  { name: 'offsets beyond the data', bytes: () => edit(2, { offsets: [16, 32] }), message: /data_offsets \[16, 32\] fall outside the 24-byte data section/ },
  { name: 'offsets that run backwards', bytes: () => edit(2, { offsets: [24, 16] }), message: /data_offsets \[24, 16\] fall outside/ },
  { name: 'overlapping tensors', bytes: () => edit(2, { offsets: [12, 20] }), message: /starts at byte 12 .* where 16 was expected \(overlap\)/ },
  { name: 'a gap between tensors', bytes: () => buildFile({ __metadata__: { param_groups: GROUPS }, 'param.a': { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, 'param.b': { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)), message: /tensor 'param.b' starts at byte 8 of the data section where 4 was expected \(gap\)/ },
  { name: 'data not starting at 0', bytes: () => buildFile({ __metadata__: { param_groups: GROUPS }, 'param.a': { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), message: /tensor 'param.a' starts at byte 4 .* where 0 was expected \(gap\)/ },
  { name: 'trailing bytes no tensor covers', bytes: () => new Uint8Array([...valid, 0, 0, 0, 0]), message: /the tensors cover 24 of the 28 bytes/ },
  { name: 'malformed data_offsets', bytes: () => edit(1, { offsets: ['0', 8] }), message: /data_offsets must be two non-negative integers/ },
  { name: 'a shape that does not fill its bytes', bytes: () => edit(1, { shape: [3] }), message: /shape \[3\] of F32 does not fill data_offsets \[8, 16\]/ },
  { name: 'a shape whose product overflows', bytes: () => edit(1, { shape: [2 ** 52, 2 ** 52, 4] }), message: /does not fill data_offsets/ },
  { name: 'a negative dimension', bytes: () => edit(1, { shape: [-2] }), message: /shape must be an array of non-negative integers/ },
  { name: 'a shape that is not an array', bytes: () => edit(1, { shape: 2 }), message: /shape must be an array/ },
  { name: 'a negative I64 step', bytes: () => edit(0, { bytes: i64Data(-1n) }), message: /step -1 is negative or beyond 2\^53/ },
  { name: 'an I64 step beyond 2^53', bytes: () => edit(0, { bytes: i64Data(2n ** 53n + 1n) }), message: /step 9007199254740993 is negative or beyond 2\^53/ },
  { name: 'a NaN F64 step', bytes: () => edit(0, { dtype: 'F64', bytes: f64Data(NaN) }), message: /step NaN is not a non-negative integer/ },
  { name: 'an infinite F64 step', bytes: () => edit(0, { dtype: 'F64', bytes: f64Data(Infinity) }), message: /step Infinity is not a non-negative integer/ },
  { name: 'a negative F64 step', bytes: () => edit(0, { dtype: 'F64', bytes: f64Data(-2) }), message: /step -2 is not a non-negative integer/ },
  { name: 'a fractional F64 step', bytes: () => edit(0, { dtype: 'F64', bytes: f64Data(2.5) }), message: /step 2.5 is not a non-negative integer/ },
  { name: 'an F32 step', bytes: () => edit(0, { dtype: 'F32', shape: [2], bytes: f32Data([1, 2]) }), message: /must be a 0-d tensor|must be I64 or F64/ },
  { name: 'an F64 moment', bytes: () => edit(1, { dtype: 'F64', shape: [1] }), message: /tensor 'state.0.exp_avg' must be F32, got F64/ },
  { name: 'a state entry without its step', bytes: () => assemble(base().slice(1)), message: /state.0 has no step tensor/ },
  { name: 'a tensor name outside the layout', bytes: () => assemble([...base(), { name: 'optimizer.lr', dtype: 'F32', shape: [1], bytes: f32Data([1]) }]), message: /tensor 'optimizer.lr' is neither state.<id>.<key> nor param.<name>/ },
  { name: 'param_groups missing from the metadata', bytes: () => assemble(base(), {}), message: /__metadata__.param_groups is missing/ },
  { name: 'param_groups that are not JSON', bytes: () => assemble(base(), { param_groups: '[{"params": [0]' }), message: /__metadata__.param_groups is not valid JSON/ },
  { name: 'param_groups that are not an array', bytes: () => assemble(base(), { param_groups: '{"params": [0]}' }), message: /param_groups must be a JSON array of objects/ },
  { name: 'a metadata value that is not a string', bytes: () => assemble(base(), { param_groups: JSON.parse(GROUPS) }), message: /__metadata__.param_groups must be a string/ },
  { name: 'metadata that is not an object', bytes: () => assemble(base(), 'param_groups'), message: /__metadata__ must be an object of strings/ },
  { name: 'a scheduler that is not a JSON object', bytes: () => assemble(base(), { param_groups: GROUPS, scheduler: '[1]' }), message: /__metadata__.scheduler must be a JSON object/ },
  { name: 'a state entry without exp_avg_sq (well-formed file)', bytes: () => assemble(base().slice(0, 2)), code: 'ERR_STATE_DICT', message: /state\[0\] .*state key 'exp_avg_sq' is missing/ },
  { name: 'a moment of the wrong length (well-formed file)', bytes: () => edit(1, { shape: [1], bytes: f32Data([1]) }), code: 'ERR_STATE_DICT', message: /exp_avg has 1 elements but the parameter has 2/ },
  { name: 'an unknown state key (well-formed file)', bytes: () => assemble([...base(), { name: 'state.0.momentum', dtype: 'F32', shape: [2], bytes: f32Data([1, 2]) }]), code: 'ERR_STATE_DICT', message: /unknown state key 'momentum'/ },
  { name: 'param_groups with two groups (well-formed file)', bytes: () => assemble(base(), { param_groups: '[{"params":[0]},{"params":[1]}]' }), code: 'ERR_STATE_DICT', message: /2 param groups but the optimizer has 1/ },
];

describe('readStateDict() on corrupted files', () => {
  it('reads the uncorrupted file the table starts from', async () => {
    await expect(load(valid)).resolves.toBeUndefined();
  });

  it.each(corrupted)('$name → a coded error', async ({ bytes, code, message }) => {
    const caught = await load(bytes()).catch((e: unknown) => e);
    // A bad file is a SimdAdamError; a good file holding a bad state dict may be a TypeError or
    // RangeError, as loadStateDict reports it.
    expect(caught).toBeInstanceOf(code === 'ERR_STATE_DICT' ? Error : SimdAdamError);
    expect(caught).toMatchObject({ code: code ?? 'ERR_CHECKPOINT' });
    expect((caught as Error).message).toMatch(message);
  });

  it('a missing file → ERR_CHECKPOINT naming it', async () => {
    await expect(readStateDict(join(work, 'absent.safetensors'))).rejects.toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(/absent.safetensors: could not read the file/) });
  });

  it('any corruption of a real checkpoint is either read or refused with a coded error, never a crash', async () => {
    const { opt, params } = trained(2);
    const path = fresh();
    await writeStateDict(path, opt.stateDict(), { params, scheduler: { last_epoch: 2 } });
    const good = readFileSync(path);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: good.byteLength - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat({ max: good.byteLength }),
        async (flips, cut) => {
          const bytes = good.slice(0, Math.max(cut, good.byteLength - 64));
          for (const [at, value] of flips) if (at < bytes.byteLength) bytes[at] = value;
          const target = fresh('fuzz');
          writeFileSync(target, bytes);
          try {
            const back = await readStateDict(target);
            const again = new Adam(trained(0).groups());
            again.loadStateDict(back);
          } catch (e) {
            expect(e).toMatchObject({ code: expect.stringMatching(/^ERR_(CHECKPOINT|STATE_DICT)$/) });
            expect(e instanceof SimdAdamError || e instanceof TypeError || e instanceof RangeError).toBe(true);
          }
          rmSync(target);
        },
      ),
      { numRuns: 150 },
    );
  });
});

it('AdamW checkpoints keep decoupled weight decay across a file round trip', async () => {
  const p = new Parameter(new Float32Array([1, 2]), { name: 'w' });
  const opt = new AdamW([p]);
  p.grad = new Float32Array([0.1, 0.2]);
  opt.step();
  const path = fresh();
  await writeStateDict(path, opt.stateDict());
  const back = new AdamW([new Parameter(p.data.slice(), { name: 'w' })]);
  back.loadStateDict(await readStateDict(path));
  expect(back.paramGroups[0]).toMatchObject({ decoupledWeightDecay: true, weightDecay: 0.01 });
});
