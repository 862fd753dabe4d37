/**
 * Fuzzes the checkpoint reader with mutated valid files: byte flips, overwrites, truncations,
 * appended bytes, lying header lengths, and header edits that keep the JSON well-formed (so
 * validation past the parser is reached). Every input must give either a checkpoint that
 * loadStateDict accepts or rejects with a code, or a coded rejection: never another error, a
 * crash or a hang. An attempt to allocate beyond the file would surface as an uncoded
 * RangeError ("Array buffer allocation failed") and fail the test.
 *
 * SIMD_ADAM_FUZZ_RUNS raises the count (npm run test:long).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

import { Adam, AdamW, Parameter, readStateDict, SimdAdamError, type Checkpoint } from '../src/index.js';
import { toSafetensors } from '../src/checkpoint/layout.js';
import { fromSafetensors } from '../src/checkpoint/restore.js';
import { decodeSafetensors, encodeSafetensors } from '../src/checkpoint/safetensors.js';
import { fillValues, rng } from './support/random.js';

const RUNS = Number(process.env.SIMD_ADAM_FUZZ_RUNS ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'simd-adam-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model() {
  const next = rng(7);
  const params = [[3, 4], [5], [], [2, 0]].map(
    (shape, i) => new Parameter(fillValues(new Float32Array(shape.reduce((a, b) => a * b, 1)), next), { name: `p${i}`, shape }),
  );
  return params;
}

function seedFile(amsgrad: boolean): Uint8Array {
  const params = model();
  const opt = amsgrad ? new Adam([{ params: params.slice(0, 2), amsgrad: true }, { params: params.slice(2) }]) : new AdamW([{ params: params.slice(0, 2) }, { params: params.slice(2), lr: 0.1 }]);
  params.forEach((p, i) => (p.grad = fillValues(new Float32Array(p.numel), rng(i))));
  opt.step();
  params[1]!.grad = null;
  opt.step();
  const scheduler = { last_epoch: 2, base_lrs: [0.001, 0.1] };
  return encodeSafetensors(toSafetensors(opt.stateDict(), { params, scheduler }, 'seed'));
}

const SEEDS = [seedFile(false), seedFile(true)];
const DTYPES = ['F32', 'F64', 'I64', 'I32', 'BOOL', 'F16', 'BF16', 'U8', 'X', ''];

function headerOf(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>, data: bytes.subarray(8 + length) };
}

function withHeader(header: unknown, data: Uint8Array): Uint8Array {
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const head = Buffer.from(text);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

function pick<T>(next: () => number, xs: readonly T[]): T {
  return xs[Math.floor(next() * xs.length)]!;
}

/** A structured edit of one tensor entry or the metadata, keeping the JSON valid. */
function editHeader(bytes: Uint8Array, next: () => number): Uint8Array {
  const { header, data } = headerOf(bytes);
  const names = Object.keys(header);
  const name = pick(next, names);
  const entry = header[name] as Record<string, unknown>;
  const wild = () => pick(next, [0, 1, -1, 7, 8, 2 ** 31, 2 ** 53, 2 ** 64, 1.5, NaN, '4', null, [], {}] as unknown[]);
  if (name === '__metadata__') {
    const key = pick(next, Object.keys(entry));
    const r = next();
    if (r < 0.3) entry[key] = wild();
    else if (r < 0.6) entry[key] = String(entry[key]).slice(0, Math.floor(next() * String(entry[key]).length));
    else if (r < 0.8) delete entry[key];
    else entry[key] = JSON.stringify([{ params: [0, 0], lr: -1 }]);
  } else {
    const r = next();
    if (r < 0.25) entry.dtype = pick(next, DTYPES);
    else if (r < 0.5) entry.shape = next() < 0.5 ? [wild()] : (entry.shape as number[]).map((d) => (next() < 0.5 ? d : wild()));
    else if (r < 0.8) {
      const offsets = entry.data_offsets as number[];
      entry.data_offsets = next() < 0.5 ? [offsets[0], wild()] : offsets.map((o) => o + pick(next, [-8, -4, -1, 1, 4, 8]));
    } else if (r < 0.9) delete header[name];
    else header[`${name}.copy`] = { ...entry };
  }
  return withHeader(header, data);
}

function mutate(seed: Uint8Array, next: () => number): Uint8Array {
  const kind = Math.floor(next() * 7);
  const bytes = new Uint8Array(seed); // a copy: the seed may be a Buffer, whose slice() is a view
  switch (kind) {
    case 0: // flip a few bits
      for (let k = 1 + Math.floor(next() * 8); k > 0; k--) bytes[Math.floor(next() * bytes.length)]! ^= 1 << Math.floor(next() * 8);
      return bytes;
    case 1: // overwrite a few bytes
      for (let k = 1 + Math.floor(next() * 4); k > 0; k--) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      return bytes;
    case 2: // truncate
      return bytes.subarray(0, Math.floor(next() * bytes.length));
    case 3: { // append bytes
      const out = new Uint8Array(bytes.length + 1 + Math.floor(next() * 64));
      out.set(bytes);
      return out;
    }
    case 4: { // a lying header length
      const view = new DataView(bytes.buffer);
      view.setBigUint64(0, pick(next, [0n, 1n, 7n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, view.getBigUint64(0, true) + BigInt(pick(next, [-9, -1, 1, 9]))]), true);
      return bytes;
    }
    default:
      return editHeader(bytes, next);
  }
}

/** Decodes and loads one input; returns 'ok' | the error code; throws on anything uncoded. */
function attempt(bytes: Uint8Array): string {
  let checkpoint: Checkpoint;
  try {
    checkpoint = fromSafetensors(decodeSafetensors(bytes, 'fuzz'), 'fuzz');
  } catch (error) {
    if (error instanceof SimdAdamError && (error.code === 'ERR_CHECKPOINT' || error.code === 'ERR_STATE_DICT')) return error.code;
    throw error;
  }
  const params = model();
  const opt = new Adam([{ params: params.slice(0, 2) }, { params: params.slice(2) }]);
  try {
    opt.loadStateDict(checkpoint);
    return 'ok';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_')) return code;
    throw error;
  }
}

it(`${RUNS} mutated checkpoints each give a coded error or a valid state dict, never a crash`, () => {
  const next = rng(20261123);
  const outcomes = new Map<string, number>();
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < RUNS; i++) {
    const input = mutate(pick(next, SEEDS), next);
    let outcome: string;
    try {
      outcome = attempt(input);
    } catch (error) {
      throw new Error(`input ${i} (${input.length} bytes, base64 ${Buffer.from(input).toString('base64').slice(0, 200)}…) gave an uncoded error: ${String(error)}`);
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // Most mutations must be caught, and some must survive (the fuzzer reaches past the parser).
  expect(outcomes.get('ERR_CHECKPOINT') ?? 0).toBeGreaterThan(RUNS / 2);
  expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0);
  // ASan's quarantine and shadow memory make RSS meaningless under `npm run test:sanitize`.
  if (!process.env.SIMD_ADAM_SANITIZE_RUN) expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 2 ** 20);
}, 300_000);

it('readStateDict gives the same coded errors for mutated files on disk', async () => {
  const next = rng(99);
  for (let i = 0; i < 200; i++) {
    const input = mutate(pick(next, SEEDS), next);
    const path = join(dir, `case-${i}.safetensors`);
    writeFileSync(path, input);
    const expected = attempt(input);
    const actual = await readStateDict(path).then(
      (checkpoint) => {
        const params = model();
        try {
          new Adam([{ params: params.slice(0, 2) }, { params: params.slice(2) }]).loadStateDict(checkpoint);
          return 'ok';
        } catch (error) {
          return (error as { code: string }).code;
        }
      },
      (error: unknown) => (error as { code?: string }).code ?? String(error),
    );
    expect(actual, `case ${i}`).toBe(expected);
  }
});
