/**
 * The interval index behind ERR_GRAD_ALIAS (src/engine/overlap.ts) agrees with the obvious quadratic
 * check on random views over a few shared buffers, and stays exact on a model's worth of
 * parameters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { firstOverlap, firstSelfOverlap, type Span } from '../src/engine/overlap.js';
import { overlaps } from '../src/common/validate.js';

const RUNS = Number(process.env.SIMD_ADAM_PROPERTY_RUNS ?? 300);
const buffers = [new ArrayBuffer(64), new ArrayBuffer(64), new ArrayBuffer(0)];

/** A Float32Array over one of the buffers: any element offset and length that fit, empty ones too. */
const view = fc
  .tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 16 }))
  .map(([b, start, length]) => new Float32Array(buffers[b]!, 4 * Math.min(start, 16), Math.min(length, 16 - Math.min(start, 16))));
const spans = fc.array(view, { maxLength: 12 }).map((views) => views.map((v, i): Span<number> => ({ view: v, tag: i })));

describe('firstOverlap', () => {
  it('finds a colliding pair exactly when the quadratic check does, and the pair it names does collide', () => {
    fc.assert(
      fc.property(spans, spans, (reads, writes) => {
        const hit = firstOverlap(reads, writes);
        const firstRead = reads.find((r) => writes.some((w) => overlaps(r.view, w.view)));
        expect(hit?.read.tag).toBe(firstRead?.tag);
        if (hit) expect(overlaps(hit.read.view, hit.write.view)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('treats views of different buffers, adjacent views and empty views as disjoint', () => {
    const a = new Float32Array(8);
    const b = new Float32Array(8);
    const read = [{ view: a.subarray(0, 4), tag: 'r' }];
    expect(firstOverlap(read, [{ view: b, tag: 'other buffer' }])).toBeUndefined();
    expect(firstOverlap(read, [{ view: a.subarray(4), tag: 'adjacent' }])).toBeUndefined();
    expect(firstOverlap(read, [{ view: a.subarray(2, 2), tag: 'empty' }])).toBeUndefined();
    expect(firstOverlap(read, [{ view: a.subarray(3, 5), tag: 'one element' }])?.write.tag).toBe('one element');
  });

  // A model's worth of views in one buffer (the quadratic check would take minutes): exact both
  // ways, with no collision and with one planted among the last reads. Speed is the bench's job.
  it('checks 100k grads against 300k writes in one buffer, and finds the one planted overlap', () => {
    const n = 100_000;
    const arena = new Float32Array(4 * n * 4);
    const writes = Array.from({ length: 3 * n }, (_, i) => ({ view: arena.subarray(4 * i, 4 * i + 4), tag: i }));
    const reads = Array.from({ length: n }, (_, i) => ({ view: arena.subarray(4 * (3 * n + i), 4 * (3 * n + i) + 4), tag: i }));
    expect(firstOverlap(reads, writes)).toBeUndefined();
    reads[n - 7] = { view: arena.subarray(4 * 12345 + 1, 4 * 12345 + 3), tag: n - 7 };
    const hit = firstOverlap(reads, writes);
    expect(hit?.read.tag).toBe(n - 7);
    expect(hit?.write.tag).toBe(12345);
  });
});

describe('firstSelfOverlap', () => {
  it('finds a colliding pair exactly when the quadratic check does', () => {
    fc.assert(
      fc.property(spans, (list) => {
        const hit = firstSelfOverlap(list);
        const any = list.some((a, i) => list.some((b, j) => i < j && overlaps(a.view, b.view)));
        expect(hit !== undefined).toBe(any);
        if (hit) {
          expect(hit.a.tag).not.toBe(hit.b.tag);
          expect(overlaps(hit.a.view, hit.b.view)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
