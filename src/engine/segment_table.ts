/** A step as a list of segments, run in one native crossing (or by the TypeScript reference
 * when the 'js' backend is selected). */
import { isJsBackend } from '../native/backend.js';
import { addon } from '../native/addon.js';
import { allZeroReference, firstNonFiniteReference } from '../reference/reduce.js';
import { adamStepReference, type AdamScalars } from '../reference/adam.js';
import { adamStepBf16Reference, adamStepQ8Reference, type Q8Moment } from '../reference/adam_lowbit.js';
import { momentAllZero, type Moment } from './lowbit_state.js';

/** One contiguous run of elements and the scalars for it. All views have the same length; the
 * moments are all in one format (float32, bfloat16 bits, or 8-bit codes and scales, the run
 * then starting a block). */
export interface Segment {
  param: Float32Array;
  grad: Float32Array;
  expAvg: Moment;
  expAvgSq: Moment;
  maxExpAvgSq: Moment | null;
  scalars: AdamScalars;
}

/** Runs one segment with the TypeScript reference for its format. */
export function stepReference(s: Segment): void {
  if (s.expAvg instanceof Float32Array) {
    adamStepReference(s.param, s.grad, s.expAvg, s.expAvgSq as Float32Array, s.maxExpAvgSq as Float32Array | null, s.scalars);
  } else if (s.expAvg instanceof Uint16Array) {
    adamStepBf16Reference(s.param, s.grad, s.expAvg, s.expAvgSq as Uint16Array, s.maxExpAvgSq as Uint16Array | null, s.scalars);
  } else {
    adamStepQ8Reference(s.param, s.grad, s.expAvg, s.expAvgSq as Q8Moment, s.maxExpAvgSq as Q8Moment | null, s.scalars);
  }
}

const L = addon.planLayout;
const S = L.segment;
const C = L.scalars;

/** Node-API 8 cannot read a SharedArrayBuffer's memory directly, but can read a view of it. */
const sharedViews = new WeakMap<SharedArrayBuffer, Uint8Array>();

export function bufferHandle(buffer: ArrayBufferLike): ArrayBuffer | Uint8Array {
  if (buffer instanceof ArrayBuffer) return buffer;
  let view = sharedViews.get(buffer as SharedArrayBuffer);
  if (!view) sharedViews.set(buffer as SharedArrayBuffer, (view = new Uint8Array(buffer)));
  return view;
}

function flagsOf(s: AdamScalars): number {
  return (
    (s.amsgrad ? L.flags.AMSGRAD : 0) |
    (s.maximize ? L.flags.MAXIMIZE : 0) |
    (s.coupledDecay ? L.flags.COUPLED_DECAY : 0) |
    (s.decoupledDecay ? L.flags.DECOUPLED_DECAY : 0)
  );
}

/** Writes one row of scalars (see native/runtime/segment_table.h) at row `k` of `out`. */
export function writeScalars(out: Float64Array, k: number, s: AdamScalars): void {
  const r = k * C.STRIDE;
  out[r + C.BETA1] = s.beta1;
  out[r + C.ONE_MINUS_BETA1] = s.oneMinusBeta1;
  out[r + C.BETA2] = s.beta2;
  out[r + C.ONE_MINUS_BETA2] = s.oneMinusBeta2;
  out[r + C.EPS] = s.eps;
  out[r + C.WEIGHT_DECAY] = s.weightDecay;
  out[r + C.DECAY_FACTOR] = s.decayFactor;
  out[r + C.BIAS_CORRECTION2_SQRT] = s.biasCorrection2Sqrt;
  out[r + C.NEG_STEP_SIZE] = s.negStepSize;
  out[r + C.FLAGS] = flagsOf(s);
}

/** Copies a grad column (per segment: buffer index, element offset) into `table`'s grad columns. */
export function writeGradColumn(table: Float64Array, column: Float64Array): void {
  for (let k = 0; k < column.length / 2; k++) {
    table[k * S.STRIDE + S.GRAD_BUFFER] = column[2 * k]!;
    table[k * S.STRIDE + S.GRAD_OFFSET] = column[2 * k + 1]!;
  }
}

/** Builds the (buffers, table) pair of a plan row by row; buffers are numbered as first met. */
export class TableWriter {
  readonly buffers: Array<ArrayBuffer | Uint8Array> = [];
  readonly table: Float64Array;
  readonly #indexOf = new Map<ArrayBufferLike, number>();

  constructor(rows: number) {
    this.table = new Float64Array(rows * S.STRIDE);
  }

  /** Row `k`: `length` elements starting at each view's first element, scalars row `scalarsRow`. */
  row(k: number, length: number, scalarsRow: number, views: Omit<Segment, 'scalars'>): void {
    this.fixedRow(k, length, scalarsRow, views);
    this.#place(views.grad, k * S.STRIDE + S.GRAD_BUFFER, k * S.STRIDE + S.GRAD_OFFSET);
  }

  /** Row `k` but its grad columns, which a cached plan keeps as a column of its own
   * (see grad_column.ts): its buffers then are only parameters and state. */
  fixedRow(k: number, length: number, scalarsRow: number, views: Omit<Segment, 'scalars' | 'grad'>): void {
    const row = k * S.STRIDE;
    this.table[row + S.LENGTH] = length;
    this.table[row + S.SCALARS_ROW] = scalarsRow;
    const m = views.expAvg;
    this.table[row + S.STATE_FORMAT] = m instanceof Float32Array ? L.formats.F32 : m instanceof Uint16Array ? L.formats.BF16 : L.formats.Q8;
    this.#place(views.param, row + S.PARAM_BUFFER, row + S.PARAM_OFFSET);
    this.#moment(views.expAvg, row, S.EXP_AVG_BUFFER, S.EXP_AVG_SCALE_BUFFER);
    this.#moment(views.expAvgSq, row, S.EXP_AVG_SQ_BUFFER, S.EXP_AVG_SQ_SCALE_BUFFER);
    if (views.maxExpAvgSq) this.#moment(views.maxExpAvgSq, row, S.MAX_EXP_AVG_SQ_BUFFER, S.MAX_EXP_AVG_SQ_SCALE_BUFFER);
    else this.table[row + S.MAX_EXP_AVG_SQ_BUFFER] = -1;
  }

  /** A moment's (buffer, offset) columns, and for 8-bit its scales' (each offset column follows
   * its buffer column). */
  #moment(m: Moment, row: number, column: number, scaleColumn: number): void {
    if (m instanceof Float32Array || m instanceof Uint16Array) return this.#place(m, row + column, row + column + 1);
    this.#place(m.codes, row + column, row + column + 1);
    this.#place(m.scale, row + scaleColumn, row + scaleColumn + 1);
  }

  #place(view: Float32Array | Uint16Array | Uint8Array, bufferColumn: number, offsetColumn: number): void {
    let index = this.#indexOf.get(view.buffer);
    if (index === undefined) {
      index = this.buffers.length;
      this.#indexOf.set(view.buffer, index);
      this.buffers.push(bufferHandle(view.buffer));
    }
    this.table[bufferColumn] = index;
    this.table[offsetColumn] = view.byteOffset / view.BYTES_PER_ELEMENT;
  }
}

/** Encodes segments as the addon's (buffers, table, scalars) triple: see native/runtime/segment_table.h.
 * Segments that share one scalars object share one scalars row. */
export function encodePlan(segments: readonly Segment[]): {
  buffers: Array<ArrayBuffer | Uint8Array>;
  table: Float64Array;
  scalars: Float64Array;
} {
  const writer = new TableWriter(segments.length);
  const rows = new Map<AdamScalars, number>();
  segments.forEach((seg, k) => {
    let r = rows.get(seg.scalars);
    if (r === undefined) rows.set(seg.scalars, (r = rows.size));
    writer.row(k, seg.param.length, r, seg);
  });
  const scalars = new Float64Array(rows.size * C.STRIDE);
  for (const [s, r] of rows) writeScalars(scalars, r, s);
  return { buffers: writer.buffers, table: writer.table, scalars };
}

/** A read-only pass over the segments before anything is written (native/runtime/guard.h). */
export interface PrePass {
  /** Refuse the step if any grad holds NaN or ±Inf. */
  nonFinite: boolean;
  /** Report, per segment, which of grad, param and exp_avg are all zero. */
  zeroScan: boolean;
}

export interface StepOutcome {
  /** Set when the pre-pass refused the step: nothing was written. */
  stopped?: { segment: number; element: number };
  /** With zeroScan: per segment, ZERO_GRAD | ZERO_PARAM | ZERO_EXP_AVG bits (reduceLayout.guard). */
  zeroReport?: Uint8Array;
}

/** A step that ran with nothing to report. */
export const CLEAN_OUTCOME: StepOutcome = Object.freeze({});

/** Runs segments once, in one native crossing (or the TypeScript reference): the one-shot path
 * the kernel tests and the benchmark use. Optimizers step through step_plan.ts, which also
 * runs the guard pre-pass. */
export function runSegments(segments: readonly Segment[]): void {
  if (segments.length === 0) return;
  if (isJsBackend()) {
    for (const s of segments) stepReference(s);
    return;
  }
  const { buffers, table, scalars } = encodePlan(segments);
  addon.step(buffers, table, scalars);
}

/** The 'js' backend's pre-pass: the same facts as native/runtime/guard.cc, in the same order. */
export function prePassReference(segments: ReadonlyArray<Omit<Segment, 'scalars'>>, prePass: PrePass): StepOutcome {
  if (prePass.nonFinite) {
    for (let k = 0; k < segments.length; k++) {
      const element = firstNonFiniteReference(segments[k]!.grad);
      if (element >= 0) return { stopped: { segment: k, element } };
    }
  }
  if (!prePass.zeroScan) return CLEAN_OUTCOME;
  const G = addon.reduceLayout.guard;
  const zeroReport = new Uint8Array(segments.length);
  segments.forEach((s, k) => {
    if (!allZeroReference(s.grad)) return;
    zeroReport[k] = G.ZERO_GRAD | (allZeroReference(s.param) ? G.ZERO_PARAM : 0) | (momentAllZero(s.expAvg, true) ? G.ZERO_EXP_AVG : 0);
  });
  return { zeroReport };
}

/** The native pre-pass reads float32 exp_avg only. For a zero scan over reduced state, call
 * this before the step writes anything: per segment, whether its reduced exp_avg reads as zero
 * (null when no segment has reduced state). */
export function reducedExpAvgZero(segments: ReadonlyArray<Omit<Segment, 'scalars'>>): boolean[] | null {
  if (segments.every((s) => s.expAvg instanceof Float32Array)) return null;
  return segments.map((s) => !(s.expAvg instanceof Float32Array) && momentAllZero(s.expAvg, true));
}

/** Adds to a native zero report what reducedExpAvgZero found. */
export function completeZeroReport(zeroReport: Uint8Array | null, reducedZero: readonly boolean[] | null): void {
  if (!zeroReport || !reducedZero) return;
  const G = addon.reduceLayout.guard;
  reducedZero.forEach((zero, k) => {
    if (zero && zeroReport[k]! & G.ZERO_GRAD) zeroReport[k]! |= G.ZERO_EXP_AVG;
  });
}

/** The addon's guard arguments for `prePass` over `count` segments. */
export function guardArguments(prePass: PrePass, count: number): { flags: number; zeroReport: Uint8Array | null } {
  const G = addon.reduceLayout.guard;
  return {
    flags: (prePass.nonFinite ? G.NON_FINITE : 0) | (prePass.zeroScan ? G.ZERO_SCAN : 0),
    zeroReport: prePass.zeroScan ? new Uint8Array(count) : null,
  };
}

/** What a guarded native call returned, as an outcome. */
export function guardOutcome(stop: readonly [number, number] | null | undefined, zeroReport: Uint8Array | null): StepOutcome {
  if (stop) return { stopped: { segment: stop[0], element: stop[1] } };
  return zeroReport ? { zeroReport } : CLEAN_OUTCOME;
}
