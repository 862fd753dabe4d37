/**
 * Every backend's reductions against the TypeScript reference: every length from 0 to 3×16+1
 * (each vector width's main loop and tail), views at every 4-byte offset, hostile values. Exact
 * results (all-zero, first non-finite, max |x|, scale) agree bit for bit; sums, whose order
 * differs by vector width, agree to 1e-12 relative.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend } from '../src/index.js';
import { allZeroEach, reduceEach, scaleEach, type ReduceOp } from '../src/engine/reduce.js';
import {
  allZeroReference,
  firstNonFiniteReference,
  maxAbsReference,
  scaleReference,
  sumAbsReference,
  sumPowAbsReference,
  sumSqReference,
} from '../src/reference/reduce.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng, SPECIALS } from './support/random.js';

const initial = backend();
afterAll(() => setBackend(initial));

const MAX_LENGTH = 3 * 16 + 1;

/** A view of `n` floats at `offset` floats into a fresh buffer, guarded on both sides. */
function view(n: number, offset: number): Float32Array {
  return new Float32Array(new ArrayBuffer((n + offset + 20) * 4), offset * 4, n);
}

/** Every (length, offset) pair, each filled from its own seed: `specials` sprinkles NaN, ±Inf,
 * ±0, huge and subnormal values in. */
function cases(specials: readonly number[]): Float32Array[] {
  const out: Float32Array[] = [];
  for (let n = 0; n <= MAX_LENGTH; n++) {
    for (let offset = 0; offset < 4; offset++) out.push(fillValues(view(n, offset), rng(1 + n * 4 + offset), specials));
  }
  return out;
}

/** Zeros (of both signs) with one non-zero or non-finite value planted at each position. */
function plantedCases(value: number): Array<{ x: Float32Array; at: number }> {
  const out: Array<{ x: Float32Array; at: number }> = [];
  for (const n of [1, 7, 8, 9, 15, 16, 17, 33, MAX_LENGTH]) {
    for (let at = -1; at < n; at++) {
      const x = view(n, n % 4);
      for (let i = 0; i < n; i++) x[i] = i % 3 === 0 ? -0 : 0;
      if (at >= 0) x[at] = value;
      out.push({ x, at });
    }
  }
  return out;
}

const SUMS: Array<[ReduceOp, (x: Float32Array, p: number) => number, number]> = [
  ['sumSq', sumSqReference, 0],
  ['sumAbs', sumAbsReference, 0],
  ['sumPowAbs', sumPowAbsReference, 3],
  ['sumPowAbs', sumPowAbsReference, 0.5],
];

function closeEnough(ours: number, ref: number): boolean {
  if (Number.isNaN(ref)) return Number.isNaN(ours);
  if (!Number.isFinite(ref)) return ours === ref;
  return Math.abs(ours - ref) <= 1e-12 * Math.abs(ref) + 1e-300;
}

describe.each(availableBackends())('the %s reductions', (name) => {
  it('find all-zero views exactly, ±0 counting as zero', () => {
    setBackend(name);
    for (const value of [1e-45, -1e-45, 1, NaN, Infinity, -3.4e38]) {
      const planted = plantedCases(value);
      expect(allZeroEach(planted.map((c) => c.x))).toEqual(planted.map((c) => c.at < 0));
    }
    const random = cases(SPECIALS);
    expect(allZeroEach(random)).toEqual(random.map(allZeroReference));
  });

  it('find the first non-finite element at every position', () => {
    setBackend(name);
    for (const value of [NaN, Infinity, -Infinity]) {
      const planted = plantedCases(value);
      expect(Array.from(reduceEach(planted.map((c) => c.x), 'firstNonFinite'))).toEqual(planted.map((c) => c.at));
    }
    const random = cases(SPECIALS);
    expect(Array.from(reduceEach(random, 'firstNonFinite'))).toEqual(random.map(firstNonFiniteReference));
  });

  it('sum squares, absolute values and powers in double, as the reference does', () => {
    setBackend(name);
    for (const specials of [[], SPECIALS]) {
      const random = cases(specials);
      for (const [op, reference, p] of SUMS) {
        const ours = reduceEach(random, op, p);
        const bad = random.findIndex((x, k) => !closeEnough(ours[k]!, reference(x, p)));
        expect(bad, `${op}(p=${p}) on case ${bad}`).toBe(-1);
      }
    }
  });

  it('take the largest magnitude exactly, and NaN wherever a NaN is', () => {
    setBackend(name);
    for (const specials of [[], SPECIALS]) {
      const random = cases(specials);
      expect(Array.from(reduceEach(random, 'maxAbs'))).toEqual(random.map(maxAbsReference));
    }
    const planted = plantedCases(NaN);
    expect(Array.from(reduceEach(planted.map((c) => c.x), 'maxAbs'))).toEqual(planted.map((c) => (c.at < 0 ? 0 : NaN)));
  });

  it('scale in float32 bit for bit, writing nothing outside each view', () => {
    setBackend(name);
    for (const factor of [0.3, 1e-30, 0, NaN, Infinity]) {
      const ours = cases(SPECIALS);
      const ref = ours.map((x) => x.slice());
      ref.forEach((x) => scaleReference(x, factor));
      scaleEach(ours, factor);
      ours.forEach((x, k) => {
        expect(firstBitDifference(x, ref[k]!), `factor ${factor} case ${k}`).toBeNull();
        const after = new Float32Array(x.buffer, x.byteOffset + x.byteLength, 20);
        expect(after.every((v) => v === 0)).toBe(true);
      });
    }
  });
});

it('a 16M-element sum of squares stays within 1e-9 of the exact value on every backend', () => {
  const n = 1 << 24;
  const x = new Float32Array(n).fill(0.1);
  const exact = n * Math.fround(0.1) ** 2;
  for (const name of availableBackends()) {
    setBackend(name);
    expect(Math.abs(reduceEach([x], 'sumSq')[0]! - exact) / exact, name).toBeLessThan(1e-9);
  }
});
