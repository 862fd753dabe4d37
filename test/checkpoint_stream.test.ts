/**
 * Checkpoints streamed from the optimizer's live state and read back tensor by tensor: the same
 * bytes as from a state dict, the optimizer held (ERR_BUSY) exactly while a write runs, staging
 * boundaries crossed bit for bit, user metadata, and files of other formats named.
 */
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, Parameter, readStateDict, SimdAdamError, writeStateDict } from '../src/index.js';
import { CHUNK_BYTES } from '../src/checkpoint/stream.js';
import { fillValues, rng, SPECIALS } from './support/random.js';
import { buildFile, f32, parseSpec } from './support/safetensors.js';
import { f32State } from './support/float32_state.js';

const work = mkdtempSync(join(tmpdir(), 'simd-adam-stream-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 's') => join(work, `${name}-${counter++}.safetensors`);

/** Every bit, NaN payloads included. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Parameters of the given sizes in two groups (the second amsgrad), stepped with hostile grads. */
function trained(sizes: number[], steps = 2) {
  const params = sizes.map((n, i) => new Parameter(fillValues(new Float32Array(n), rng(i + 1)), { name: `p${i}` }));
  const half = Math.ceil(params.length / 2);
  const groups = [{ params: params.slice(0, half) }, { params: params.slice(half), amsgrad: true }].filter((g) => g.params.length > 0);
  const opt = new Adam(groups, { lr: 0.01 });
  for (let s = 0; s < steps; s++) {
    params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(100 * s + i), SPECIALS)));
    opt.step();
  }
  params.forEach((p) => (p.grad = null));
  return { params, opt };
}

describe('writeStateDict(path, optimizer)', () => {
  it('writes byte for byte the file that writeStateDict(path, opt.stateDict()) writes', async () => {
    const { params, opt } = trained([12, 3, 0, 5]);
    const extras = { params, scheduler: { last_epoch: 2 }, metadata: { epoch: 3 } };
    const [live, copied] = [fresh(), fresh()];
    await writeStateDict(live, opt, extras);
    await writeStateDict(copied, opt.stateDict(), extras);
    expect(readFileSync(live).equals(readFileSync(copied))).toBe(true);
  });

  it('round-trips tensors that straddle the staging and chunk sizes bit for bit, NaN payloads included', async () => {
    const floats = CHUNK_BYTES / 4;
    const sizes = [1, 2 ** 18 - 1, 2 ** 18, 3, floats + 1, 7];
    const { params, opt } = trained(sizes, 1);
    const payload = new Uint32Array(params[4]!.data.buffer);
    payload[5] = 0x7fc01234; // a quiet NaN with a payload
    payload[floats] = 0xffa00001;
    const path = fresh();
    await writeStateDict(path, opt, { params });
    const spec = parseSpec(readFileSync(path));
    const back = await readStateDict(path);
    params.forEach((p, id) => {
      const state = f32State(opt.state.get(p));
      expect(sameBits(back.params![p.name!]!.data, p.data), `param ${id}`).toBe(true);
      expect(sameBits(f32(spec.tensors.get(`param.${p.name!}`)!), p.data), `param ${id}, independent reader`).toBe(true);
      expect(sameBits(back.state[id]!.exp_avg as Float32Array, state.expAvg), `exp_avg ${id}`).toBe(true);
      expect(sameBits(back.state[id]!.exp_avg_sq as Float32Array, state.expAvgSq), `exp_avg_sq ${id}`).toBe(true);
      if (state.maxExpAvgSq) expect(sameBits(back.state[id]!.max_exp_avg_sq as Float32Array, state.maxExpAvgSq)).toBe(true);
    });
  });

  it('holds the optimizer until the write settles: steps and loads refuse with ERR_BUSY and change nothing', async () => {
    const { params, opt } = trained([4096, 3]);
    const before = params.map((p) => p.data.slice());
    const expAvg = f32State(opt.state.get(params[0]!)).expAvg.slice();
    const sd = opt.stateDict();
    const path = fresh();
    const writing = writeStateDict(path, opt, { params });
    params.forEach((p) => (p.grad = new Float32Array(p.numel).fill(1)));
    for (const call of [() => opt.step(), () => opt.loadStateDict(sd), () => opt.stateDict(), () => opt.zeroGrad()]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_BUSY', message: expect.stringMatching(/writeStateDict\(\) of this optimizer is still running/) }));
    }
    await expect(opt.stepAsync()).rejects.toMatchObject({ code: 'ERR_BUSY' });
    await expect(writeStateDict(fresh(), opt)).rejects.toMatchObject({ code: 'ERR_BUSY' });
    params.forEach((p, i) => expect(sameBits(p.data, before[i]!)).toBe(true));
    await writing;
    const back = await readStateDict(path);
    expect(sameBits(back.params!.p0!.data, before[0]!)).toBe(true);
    expect(sameBits(back.state[0]!.exp_avg as Float32Array, expAvg)).toBe(true);
    opt.step();
    expect(sameBits(params[0]!.data, before[0]!)).toBe(false);
  });

  it('refuses to start while a stepAsync() is in flight, naming writeStateDict(), and touches no file', async () => {
    const dir = join(work, 'busy');
    rmSync(dir, { recursive: true, force: true });
    const { params, opt } = trained([1 << 16]);
    params[0]!.grad = new Float32Array(1 << 16).fill(0.5);
    const stepping = opt.stepAsync();
    await expect(writeStateDict(join(dir, 'never.safetensors'), opt)).rejects.toMatchObject({ code: 'ERR_BUSY', message: expect.stringMatching(/^writeStateDict\(\): a stepAsync\(\) of this optimizer is still running/) });
    await stepping;
  });

  it('releases the optimizer when the write fails', async () => {
    const { params, opt } = trained([8]);
    const dir = join(work, 'occupied');
    rmSync(dir, { recursive: true, force: true });
    await expect(writeStateDict(join(dir, 'missing', 'x.safetensors'), opt)).rejects.toMatchObject({ code: 'ERR_CHECKPOINT' });
    params[0]!.grad = new Float32Array(8).fill(1);
    expect(() => opt.step()).not.toThrow();
  });

  it('a buffer transferred while the write runs fails it with ERR_DETACHED; the old file stays and no temporary is left', async () => {
    const dir = join(work, 'detach');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const path = join(dir, 'run.safetensors');
    const { params, opt } = trained([2 ** 20]);
    await writeStateDict(path, opt, { params });
    const before = readFileSync(path);
    const writing = writeStateDict(path, opt, { params });
    const buffer = params[0]!.data.buffer as ArrayBuffer;
    const moved = structuredClone(buffer, { transfer: [buffer] });
    await expect(writing).rejects.toMatchObject({ code: 'ERR_DETACHED', message: expect.stringMatching(/tensor 'param.p0' was detached/) });
    expect(moved.byteLength).toBe(4 * 2 ** 20);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['run.safetensors']);
  });

  it('with a state dict hook registered, writes what stateDict() returns after the hooks', async () => {
    const { params, opt } = trained([6]);
    opt.registerStateDictPostHook((_, sd) => ({ ...sd, param_groups: (sd.param_groups as object[]).map((g) => ({ ...g, note: 'hooked' })) }));
    const path = fresh();
    await writeStateDict(path, opt, { params });
    expect((await readStateDict(path)).param_groups[0]).toMatchObject({ note: 'hooked' });
  });

  it('refuses a state whose step was set to something else (ERR_STATE), before the disk is touched', async () => {
    const { params, opt } = trained([3]);
    f32State(opt.state.get(params[0]!)).step = -1;
    const before = readdirSync(work).length;
    await expect(writeStateDict(fresh(), opt)).rejects.toMatchObject({ code: 'ERR_STATE', message: expect.stringMatching(/step must be a non-negative integer, got -1/) });
    expect(readdirSync(work).length).toBe(before);
  });

  it('AdamW from the live state resumes with decoupled weight decay', async () => {
    const p = new Parameter(new Float32Array([1, 2]), { name: 'w' });
    const opt = new AdamW([p]);
    p.grad = new Float32Array([0.1, 0.2]);
    opt.step();
    const path = fresh();
    await writeStateDict(path, opt);
    const again = new AdamW([new Parameter(p.data.slice(), { name: 'w' })]);
    again.loadStateDict(await readStateDict(path));
    expect(again.paramGroups[0]).toMatchObject({ decoupledWeightDecay: true, weightDecay: 0.01 });
    expect(again.state.values().next().value).toMatchObject({ step: 1 });
  });
});

describe('extras.metadata', () => {
  it('round-trips any JSON value of the user, as JSON would', async () => {
    const { opt } = trained([2]);
    const metadata = { epoch: 7, rng: [1, 2, 3, 4294967295], loader: { shard: 'train-00003', offset: 81920 }, note: 'résumé ✓', nan: NaN, gone: undefined };
    const path = fresh();
    await writeStateDict(path, opt, { metadata });
    expect((await readStateDict(path)).metadata).toEqual({ epoch: 7, rng: [1, 2, 3, 4294967295], loader: { shard: 'train-00003', offset: 81920 }, note: 'résumé ✓', nan: null });
    const scalar = fresh();
    await writeStateDict(scalar, opt.stateDict(), { metadata: 42 });
    expect((await readStateDict(scalar)).metadata).toBe(42);
    const none = fresh();
    await writeStateDict(none, opt);
    expect('metadata' in (await readStateDict(none))).toBe(false);
  });

  it.each([
    { name: 'a BigInt', metadata: { step: 1n }, message: /metadata is not JSON-serialisable \(.*BigInt/ },
    { name: 'a cycle', metadata: (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })(), message: /metadata is not JSON-serialisable \(.*circular/i },
    { name: 'a function', metadata: () => 1, message: /metadata must be JSON-serialisable, got/ },
  ])('refuses $name with a TypeError (ERR_CHECKPOINT), before the disk is touched', async ({ metadata, message }) => {
    const { opt } = trained([2]);
    const before = readdirSync(work).length;
    const caught = await writeStateDict(fresh(), opt, { metadata }).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(TypeError);
    expect(caught).toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(message) });
    expect(readdirSync(work).length).toBe(before);
    opt.paramGroups[0]!.params[0]!.grad = new Float32Array(2);
    expect(() => opt.step()).not.toThrow();
  });
});

describe('readStateDict() on files of other formats', () => {
  const zipHead = [0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
  it.each([
    { name: 'a torch.save zip', bytes: new Uint8Array([...zipHead, ...new Uint8Array(200)]), message: /zip archive, as torch.save writes .*torch_checkpoint.py from-torch/ },
    { name: 'a legacy torch.save pickle', bytes: new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03]), message: /Python pickle .*torch_checkpoint.py from-torch/ },
    { name: 'a pickle of protocol 4', bytes: new Uint8Array([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94, 0x2e]), message: /Python pickle/ },
    { name: 'a JSON state dict', bytes: new TextEncoder().encode('{"state": {}, "param_groups": [{"params": [0]}]}'), message: /JSON text, not a safetensors checkpoint; .*loadStateDict\(JSON.parse/ },
    { name: 'a gzip', bytes: new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]), message: /gzip-compressed/ },
  ])('$name → ERR_CHECKPOINT saying what it is and how to convert it', async ({ bytes, message }) => {
    const path = fresh('foreign');
    writeFileSync(path, bytes);
    const caught = await readStateDict(path).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(SimdAdamError);
    expect(caught).toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(message) });
  });

  it('a valid checkpoint is never mistaken for another format by its first bytes', async () => {
    // A header of 0x0280 bytes: the length field starts 0x80 0x02, as a protocol-2 pickle does.
    const name = 'param.' + 'x'.repeat(500);
    let header = JSON.stringify({ __metadata__: { param_groups: '[]' }, [name]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    header += ' '.repeat(0x0280 - Buffer.byteLength(header));
    const bytes = buildFile(header, new Uint8Array(4));
    expect([bytes[0], bytes[1]]).toEqual([0x80, 0x02]);
    const path = fresh();
    writeFileSync(path, bytes);
    expect(Object.keys((await readStateDict(path)).params!)).toEqual([name.slice(6)]);
  });
});

it('a tensor of more than 2^32 elements is refused before anything is read or allocated, naming the limit', async () => {
  const elements = 2 ** 32 + 8;
  const text = JSON.stringify({ __metadata__: { param_groups: '[]' }, 'param.big': { dtype: 'U8', shape: [elements], data_offsets: [0, elements] } });
  const header = buildFile(text);
  const path = fresh('sparse');
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    ftruncateSync(fd, header.byteLength + elements); // sparse: no disk space used
  } finally {
    closeSync(fd);
  }
  await expect(readStateDict(path)).rejects.toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(/4294967304 elements, more than the 2\^32 that a JavaScript typed array can hold/) });
  rmSync(path);
});
