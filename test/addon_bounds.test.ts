/**
 * The addon's last line of defence: whatever plan reaches it, it reads and writes only inside the
 * buffers it was given. A detached buffer (no memory, null data pointer), a view past a buffer's
 * end or a malformed row is refused with ERR_INTERNAL before any kernel runs. Under
 * `npm run test:sanitize` an out-of-bounds access here would also be an ASan report.
 */
import { describe, expect, it } from 'vitest';

import { addon } from '../src/native/addon.js';

const S = addon.planLayout.segment;
const C = addon.planLayout.scalars;
const R = addon.reduceLayout;

function detached(bytes: number): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes);
  structuredClone(buffer, { transfer: [buffer] });
  return buffer;
}

/** One segment whose five views all lie in buffer 0 at element `offset`, `length` long. */
function stepTable(length: number, offset = 0): Float64Array {
  const t = new Float64Array(S.STRIDE);
  t[S.LENGTH] = length;
  for (const [b, o] of [
    [S.PARAM_BUFFER, S.PARAM_OFFSET],
    [S.GRAD_BUFFER, S.GRAD_OFFSET],
    [S.EXP_AVG_BUFFER, S.EXP_AVG_OFFSET],
    [S.EXP_AVG_SQ_BUFFER, S.EXP_AVG_SQ_OFFSET],
  ] as const) {
    t[b] = 0;
    t[o] = offset;
  }
  return t;
}

function viewTable(index: number, offset: number, length: number): Float64Array {
  return new Float64Array([index, offset, length].slice(0, R.VIEW_STRIDE));
}

const entries: Array<[string, (buffers: ArrayBuffer[], table: { step: Float64Array; view: Float64Array }) => unknown]> = [
  ['step', (b, t) => addon.step(b, t.step, new Float64Array(C.STRIDE))],
  ['step with the guard', (b, t) => addon.step(b, t.step, new Float64Array(C.STRIDE), R.guard.NON_FINITE, null)],
  ['allZero', (b, t) => addon.allZero(b, t.view)],
  ['reduce', (b, t) => addon.reduce(b, t.view, R.ops.SUM_SQ, 2)],
  ['scale', (b, t) => addon.scale(b, t.view, 0.5)],
];

const plans: Array<[string, ArrayBuffer[], { step: Float64Array; view: Float64Array }]> = [
  ['a detached buffer', [detached(64)], { step: stepTable(4), view: viewTable(0, 0, 4) }],
  ['a view one element past the end', [new ArrayBuffer(16)], { step: stepTable(4, 1), view: viewTable(0, 1, 4) }],
  ['an offset beyond the buffer', [new ArrayBuffer(16)], { step: stepTable(1, 2 ** 40), view: viewTable(0, 2 ** 40, 1) }],
  ['a length that overflows size_t arithmetic', [new ArrayBuffer(16)], { step: stepTable(2 ** 53, 0), view: viewTable(0, 0, 2 ** 53) }],
  ['a NaN offset', [new ArrayBuffer(16)], { step: stepTable(1, NaN), view: viewTable(0, NaN, 1) }],
  ['a buffer index out of range', [new ArrayBuffer(16)], { step: (() => { const t = stepTable(1); t[S.GRAD_BUFFER] = 3; return t; })(), view: viewTable(3, 0, 1) }],
];

describe('the addon refuses plans outside its buffers', () => {
  for (const [entry, call] of entries) {
    it.each(plans)(`${entry}: %s → ERR_INTERNAL, nothing written`, (_name, buffers, tables) => {
      const copies = buffers.map((b) => (b.byteLength ? new Uint8Array(b).slice() : null));
      expect(() => call(buffers, tables)).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
      buffers.forEach((b, i) => copies[i] && expect(new Uint8Array(b)).toEqual(copies[i]));
    });
  }
});
