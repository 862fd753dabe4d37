/**
 * Large checkpoints, bit for bit: an Adam optimizer over one parameter of F floats, its
 * parameter and both moments filled with hashed bit patterns (every float32 pattern can occur:
 * NaN payloads, ±0, ±Inf, subnormals), written from the live state, checked at offsets past
 * 4 GiB with plain positioned reads, read back and loaded into a fresh optimizer.
 *
 * SIMD_ADAM_CHECKPOINT_FLOATS sets F and runs the test: `npm run test:long` uses 380M (a 4.25 GiB
 * file, past every 32-bit offset). CI (CI=true) keeps a 2.5 GB case (208M, under 1.5 minutes
 * even on a loaded machine); a plain local `npm test` skips it, since it peaks near 7 GB of
 * memory, as does the sanitized run, whose quarantine would inflate that. The file goes to the
 * system's temporary directory and is removed afterwards.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

import { Adam, Parameter, readStateDict, writeStateDict } from '../src/index.js';
import { f32State } from './support/float32_state.js';

const configured = process.env.SIMD_ADAM_CHECKPOINT_FLOATS;
const FLOATS = Number(configured ?? 208e6);
const RUN = configured !== undefined || (process.env.CI === 'true' && !process.env.SIMD_ADAM_SANITIZE_RUN);

/** 32 hashed bits for element i of tensor `seed`. */
function hashBits(i: number, seed: number): number {
  let x = (i ^ Math.imul(seed, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function bits(view: Float32Array): Uint32Array {
  return new Uint32Array(view.buffer, view.byteOffset, view.length);
}

function fill(view: Float32Array, seed: number): void {
  const u = bits(view);
  for (let i = 0; i < u.length; i++) u[i] = hashBits(i, seed);
}

/** The first index whose bits differ from the pattern, or -1. */
function firstOff(view: Float32Array, seed: number): number {
  const u = bits(view);
  for (let i = 0; i < u.length; i++) if (u[i] !== hashBits(i, seed)) return i;
  return -1;
}

const SEEDS = { param: 1, expAvg: 2, expAvgSq: 3 };

it.skipIf(!RUN)(`a ${((FLOATS * 12) / 1e9).toFixed(2)} GB checkpoint (${FLOATS / 1e6}M floats, two moments) round-trips bit for bit from the live state into a fresh optimizer`, async () => {
  const work = mkdtempSync(join(tmpdir(), 'simd-adam-large-'));
  try {
    await roundTrip(join(work, 'large.safetensors'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}, 900_000);

async function roundTrip(path: string): Promise<void> {
  {
    const p = new Parameter(new Float32Array(FLOATS), { name: 'w' });
    const opt = new Adam([p]);
    p.grad = new Float32Array(FLOATS);
    opt.step();
    p.grad = null;
    const state = f32State(opt.state.get(p));
    fill(p.data, SEEDS.param);
    fill(state.expAvg, SEEDS.expAvg);
    fill(state.expAvgSq, SEEDS.expAvgSq);
    state.step = 2 ** 33 + 1;
    await writeStateDict(path, opt, { params: [p], metadata: { floats: FLOATS } });
  }
  const size = statSync(path).size;
  expect(size).toBeGreaterThan(FLOATS * 12);
  // Independent of our reader: the last element of the file is exp_avg_sq's or the param's
  // last element, read with a plain positioned read (past 4 GiB in the long run).
  const tail = new Uint8Array(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, tail, 0, 4, size - 4);
  } finally {
    closeSync(fd);
  }
  const last = new DataView(tail.buffer).getUint32(0, true);
  expect([hashBits(FLOATS - 1, SEEDS.param), hashBits(FLOATS - 1, SEEDS.expAvgSq)]).toContain(last);

  const ck = await readStateDict(path);
  expect(ck.metadata).toEqual({ floats: FLOATS });
  expect(ck.state[0]!.step).toBe(2 ** 33 + 1);
  expect(firstOff(ck.params!.w!.data, SEEDS.param)).toBe(-1);
  const q = new Parameter(ck.params!.w!.data, { name: 'w' });
  const resumed = new Adam([q]);
  resumed.loadStateDict(ck);
  const state = f32State(resumed.state.get(q));
  expect(state.step).toBe(2 ** 33 + 1);
  expect(firstOff(state.expAvg, SEEDS.expAvg)).toBe(-1);
  expect(firstOff(state.expAvgSq, SEEDS.expAvgSq)).toBe(-1);
}
