/**
 * Every native kernel for bfloat16 and 8-bit state against the TypeScript reference, bit for bit
 * (any NaN equals any NaN): lengths around vector widths and 256-element blocks up to 3×256+1,
 * views at unaligned offsets, every flag combination, NaN/±Inf/subnormal inputs and non-finite
 * scales. Also: the bf16 rounding and the 8-bit quantizer on their own, the maps against the
 * recorded ones, and a multi-threaded 8-bit step that equals the one-thread step whatever the
 * chunk size (the pool cuts on block boundaries).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, numThreads, setBackend, setNumThreads } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { runSegments, type Segment } from '../src/engine/segment_table.js';
import { adamScalars, type AdamHyper } from '../src/reference/adam.js';
import { encodeQ8, fromBf16, q8Blocks, Q8_BLOCK, toBf16, type Q8Moment } from '../src/reference/adam_lowbit.js';
import { QMAP_SIGNED, QMAP_UNSIGNED } from '../src/reference/qmaps.js';
import { firstBitDifference } from './support/compare.js';
import { lowbitDir } from './support/lowbit_runner.js';
import { fillValues, rng, SPECIALS } from './support/random.js';

const initial = backend();
const initialThreads = numThreads();
afterAll(() => {
  setBackend(initial);
  setNumThreads(initialThreads);
  addon.tuning({ chunkElements: 0, parallelMin: 0 });
});

const nativeBackends = availableBackends().filter((b) => b !== 'js');
const combos: Array<Pick<AdamHyper, 'amsgrad' | 'maximize' | 'weightDecay' | 'decoupledWeightDecay'>> = [];
for (const amsgrad of [false, true])
  for (const maximize of [false, true])
    for (const [weightDecay, decoupledWeightDecay] of [[0, false], [0.05, false], [0.05, true]] as const) combos.push({ amsgrad, maximize, weightDecay, decoupledWeightDecay });

function hyper(c: (typeof combos)[number]): AdamHyper {
  return { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...c };
}

function floats(n: number, offset: number, next: () => number, specials: readonly number[] = []): Float32Array {
  return fillValues(new Float32Array(new ArrayBuffer((n + offset + 1) * 4), offset * 4, n), next, specials);
}

/** Moments of `n` elements at an element offset into a fresh buffer, filled at random. */
function bf16(n: number, offset: number, next: () => number, nonnegative: boolean, specials: readonly number[]): Uint16Array {
  const v = floats(n, 0, next, specials);
  const out = new Uint16Array(new ArrayBuffer((n + offset + 1) * 2), offset * 2, n);
  v.forEach((x, i) => (out[i] = toBf16(nonnegative ? Math.abs(x) : x)));
  return out;
}

function q8(n: number, offset: number, next: () => number, specials: readonly number[]): Q8Moment {
  const codes = new Uint8Array(new ArrayBuffer(n + offset + 1), offset, n).map(() => Math.floor(next() * 256));
  const scale = floats(q8Blocks(n), offset % 2, next, specials).map((x) => (next() < 0.1 ? 0 : Math.abs(x)));
  return { codes, scale };
}

function copy(m: Segment['expAvg']): Segment['expAvg'] {
  if (m instanceof Float32Array || m instanceof Uint16Array) return m.slice();
  return { codes: m.codes.slice(), scale: m.scale.slice() };
}

function clone(s: Segment): Segment {
  return { ...s, param: s.param.slice(), grad: s.grad.slice(), expAvg: copy(s.expAvg), expAvgSq: copy(s.expAvgSq), maxExpAvgSq: s.maxExpAvgSq && copy(s.maxExpAvgSq) };
}

function asFloat(m: Segment['expAvg']): Float32Array[] {
  if (m instanceof Float32Array) return [m];
  if (m instanceof Uint16Array) return [new Float32Array(Uint32Array.from(m, (b) => b << 16).buffer)];
  return [Float32Array.from(m.codes), m.scale];
}

function differences(a: Segment, b: Segment): string[] {
  const out: string[] = [];
  const bad = firstBitDifference(a.param, b.param);
  if (bad) out.push(`param ${bad}`);
  for (const key of ['expAvg', 'expAvgSq', 'maxExpAvgSq'] as const) {
    const x = a[key], y = b[key];
    if (!x || !y) continue;
    asFloat(x).forEach((v, j) => {
      const d = firstBitDifference(v, asFloat(y)[j]!);
      if (d) out.push(`${key} ${d}`);
    });
  }
  return out;
}

function segment(format: 'bfloat16' | '8bit', n: number, offset: number, seed: number, amsgrad: boolean, specials: readonly number[], step: number, h: AdamHyper): Segment {
  const next = rng(seed);
  const moment = (nonnegative: boolean) => (format === 'bfloat16' ? bf16(n, offset + 1, next, nonnegative, specials) : q8(n, offset + 2, next, specials));
  return {
    param: floats(n, offset, next, specials),
    grad: floats(n, (offset + 3) % 4, next, specials),
    expAvg: moment(false),
    expAvgSq: moment(true),
    maxExpAvgSq: amsgrad ? moment(true) : null,
    scalars: adamScalars(h, step),
  };
}

function compareWithReference(name: string, s: Segment): string[] {
  const ref = clone(s);
  setBackend('js');
  runSegments([ref]);
  setBackend(name as never);
  runSegments([s]);
  return differences(s, ref);
}

const TINY = [...SPECIALS, 1e-39, -1e-39, 2e-38];
const Q8_LENGTHS = [0, 1, 3, 15, 16, 17, 33, 255, 256, 257, 300, 512, 3 * Q8_BLOCK + 1];

describe.each(nativeBackends)('the %s reduced-state kernels', (name) => {
  it('bf16: match the reference bit for bit at every length 0..49, offset and flag combination', () => {
    const problems: string[] = [];
    combos.forEach((c, ci) => {
      for (let n = 0; n <= 49; n++)
        for (let offset = 0; offset < 4; offset++)
          for (const bad of compareWithReference(name, segment('bfloat16', n, offset, 1 + ci * 997 + n * 7 + offset, c.amsgrad, [], 1 + (n % 5), hyper(c))))
            problems.push(`${JSON.stringify(c)} n=${n} offset=${offset}: ${bad}`);
    });
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('8-bit: match the reference bit for bit across block boundaries, offsets and flag combinations', () => {
    const problems: string[] = [];
    combos.forEach((c, ci) => {
      for (const n of Q8_LENGTHS)
        for (let offset = 0; offset < 4; offset++)
          for (const bad of compareWithReference(name, segment('8bit', n, offset, 3 + ci * 991 + n * 5 + offset, c.amsgrad, [], 1 + (n % 7), hyper(c))))
            problems.push(`${JSON.stringify(c)} n=${n} offset=${offset}: ${bad}`);
    });
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('propagate NaN, ±Inf and subnormals exactly as the reference does, in both formats', () => {
    const problems: string[] = [];
    combos.forEach((c, ci) => {
      for (const format of ['bfloat16', '8bit'] as const)
        for (const n of [1, 16, 49, 257, 600])
          for (const bad of compareWithReference(name, segment(format, n, n % 4, 99 + ci * 31 + n, c.amsgrad, TINY, 3, hyper(c))))
            problems.push(`${format} ${JSON.stringify(c)} n=${n}: ${bad}`);
    });
    expect(problems.slice(0, 5)).toEqual([]);
  });
});

it('rounds to bfloat16 to nearest, ties to even, keeping ±Inf and NaN', () => {
  const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;
  const f = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0]!;
  expect(toBf16(f(0x3f808000))).toBe(0x3f80); // tie, even below
  expect(toBf16(f(0x3f818000))).toBe(0x3f82); // tie, odd below: up
  expect(toBf16(f(0x3f808001))).toBe(0x3f81);
  expect(toBf16(f(0x7f7fffff))).toBe(0x7f80); // rounds up into +Inf
  expect(toBf16(Infinity)).toBe(0x7f80);
  expect(toBf16(-Infinity)).toBe(0xff80);
  expect(Number.isNaN(fromBf16(toBf16(NaN)))).toBe(true);
  expect(Number.isNaN(fromBf16(toBf16(f(0x7f800001))))).toBe(true); // a NaN must not round to Inf
  expect(toBf16(f(0x00018000))).toBe(0x0002); // subnormal tie, odd below: up
  expect(fromBf16(toBf16(1.5))).toBe(1.5);
  expect(bits(fromBf16(0x8000))).toBe(0x80000000);
});

it("quantizes to torchao's nearest code: ties round up, NaN gives 0, the ends clamp", () => {
  expect(encodeQ8(QMAP_SIGNED, 0)).toBe(127);
  expect(encodeQ8(QMAP_SIGNED, -1)).toBe(0);
  expect(encodeQ8(QMAP_SIGNED, 1)).toBe(255);
  expect(encodeQ8(QMAP_SIGNED, 2)).toBe(255);
  expect(encodeQ8(QMAP_SIGNED, NaN)).toBe(0);
  expect(encodeQ8(QMAP_UNSIGNED, 0)).toBe(0);
  // Between qmap[127] = 0 and qmap[128] the halfway point is exactly representable: a tie.
  const half = Math.fround(QMAP_SIGNED[128]! * 0.5);
  expect(encodeQ8(QMAP_SIGNED, half)).toBe(128);
  expect(encodeQ8(QMAP_SIGNED, Math.fround(half * (1 - 2 ** -20)))).toBe(127);
  expect(encodeQ8(QMAP_UNSIGNED, QMAP_UNSIGNED[200]!)).toBe(200);
});

it('ships the recorded dynamic maps, bit for bit, from one pair of files the reference reads and the kernels include', () => {
  const recorded = JSON.parse(readFileSync(join(lowbitDir, 'qmaps.json'), 'utf8')) as { signed: number[]; unsigned: number[] };
  expect([...QMAP_SIGNED]).toEqual(recorded.signed.map(Math.fround));
  expect([...QMAP_UNSIGNED]).toEqual(recorded.unsigned.map(Math.fround));
  // The kernels compile the very files the reference read: qmaps.h includes them as its maps.
  const header = readFileSync(join(lowbitDir, '..', '..', '..', '..', 'native', 'kernels', 'qmaps.h'), 'utf8');
  for (const name of ['signed', 'unsigned']) {
    expect(header).toMatch(new RegExp(`qmap_${name}\\[257\\] = \\{\\n#include "qmap_${name}\\.inc"\\n\\s*__builtin_nanf\\(""\\),\\n\\};`));
  }
});

it('an 8-bit step is the same on one thread and on many, whatever the chunk size', () => {
  const n = 3 * 131072 + 77;
  const h = hyper({ amsgrad: true, maximize: false, weightDecay: 0.01, decoupledWeightDecay: true });
  for (const name of nativeBackends) {
    setBackend(name as never);
    const base = segment('8bit', n, 1, 42, true, [], 4, h);
    setNumThreads(1);
    const one = clone(base);
    runSegments([one]);
    setNumThreads(Math.max(2, initialThreads));
    for (const chunkElements of [1000, 4096 + 16, 65536]) {
      addon.tuning({ chunkElements, parallelMin: 1 });
      const many = clone(base);
      runSegments([many]);
      expect(differences(many, one), `${name} chunk ${chunkElements}`).toEqual([]);
    }
    addon.tuning({ chunkElements: 0, parallelMin: 0 });
  }
});
