/** A step as a list of segments, run in one native crossing (or by the TypeScript reference
 * when the 'js' backend is selected). */
import { isJsBackend } from './backend.js';
import { addon } from './native.js';
import { allZeroReference, firstNonFiniteReference } from './reduce_reference.js';
import { adamStepReference, type AdamScalars } from './reference.js';

/** One contiguous run of elements and the scalars for it. All views have the same length. */
export interface Segment {
  param: Float32Array;
  grad: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  maxExpAvgSq: Float32Array | null;
  scalars: AdamScalars;
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

/** Encodes segments as the addon's (buffers, table, scalars) triple: see native/plan_layout.h. */
export function encodePlan(segments: readonly Segment[]): {
  buffers: Array<ArrayBuffer | Uint8Array>;
  table: Float64Array;
  scalars: Float64Array;
} {
  const table = new Float64Array(segments.length * S.STRIDE);
  const scalars = new Float64Array(segments.length * C.STRIDE);
  const buffers: Array<ArrayBuffer | Uint8Array> = [];
  const indexOf = new Map<ArrayBufferLike, number>();
  const place = (view: Float32Array, row: number, bufferColumn: number, offsetColumn: number): void => {
    let index = indexOf.get(view.buffer);
    if (index === undefined) {
      index = buffers.length;
      indexOf.set(view.buffer, index);
      buffers.push(bufferHandle(view.buffer));
    }
    table[row + bufferColumn] = index;
    table[row + offsetColumn] = view.byteOffset / Float32Array.BYTES_PER_ELEMENT;
  };
  segments.forEach((seg, k) => {
    const row = k * S.STRIDE;
    table[row + S.LENGTH] = seg.param.length;
    place(seg.param, row, S.PARAM_BUFFER, S.PARAM_OFFSET);
    place(seg.grad, row, S.GRAD_BUFFER, S.GRAD_OFFSET);
    place(seg.expAvg, row, S.EXP_AVG_BUFFER, S.EXP_AVG_OFFSET);
    place(seg.expAvgSq, row, S.EXP_AVG_SQ_BUFFER, S.EXP_AVG_SQ_OFFSET);
    if (seg.maxExpAvgSq) place(seg.maxExpAvgSq, row, S.MAX_EXP_AVG_SQ_BUFFER, S.MAX_EXP_AVG_SQ_OFFSET);
    else table[row + S.MAX_EXP_AVG_SQ_BUFFER] = -1;
    const s = seg.scalars;
    const r = k * C.STRIDE;
    scalars[r + C.BETA1] = s.beta1;
    scalars[r + C.ONE_MINUS_BETA1] = s.oneMinusBeta1;
    scalars[r + C.BETA2] = s.beta2;
    scalars[r + C.ONE_MINUS_BETA2] = s.oneMinusBeta2;
    scalars[r + C.EPS] = s.eps;
    scalars[r + C.WEIGHT_DECAY] = s.weightDecay;
    scalars[r + C.DECAY_FACTOR] = s.decayFactor;
    scalars[r + C.BIAS_CORRECTION2_SQRT] = s.biasCorrection2Sqrt;
    scalars[r + C.NEG_STEP_SIZE] = s.negStepSize;
    scalars[r + C.FLAGS] = flagsOf(s);
  });
  return { buffers, table, scalars };
}

/** A read-only pass over the segments before anything is written (native/guard.h). */
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

const RAN: StepOutcome = Object.freeze({});

/** Runs a whole step: every segment, one native crossing, the pre-pass (if any) included. */
export function runSegments(segments: readonly Segment[], prePass?: PrePass): StepOutcome {
  if (segments.length === 0) return RAN;
  const guarded = prePass !== undefined && (prePass.nonFinite || prePass.zeroScan);
  if (isJsBackend()) {
    const outcome = guarded ? prePassReference(segments, prePass) : RAN;
    if (outcome.stopped) return outcome;
    for (const s of segments) adamStepReference(s.param, s.grad, s.expAvg, s.expAvgSq, s.maxExpAvgSq, s.scalars);
    return outcome;
  }
  const { buffers, table, scalars } = encodePlan(segments);
  if (!guarded) {
    addon.step(buffers, table, scalars);
    return RAN;
  }
  const G = addon.reduceLayout.guard;
  const flags = (prePass.nonFinite ? G.NON_FINITE : 0) | (prePass.zeroScan ? G.ZERO_SCAN : 0);
  const zeroReport = prePass.zeroScan ? new Uint8Array(segments.length) : null;
  const stopped = addon.step(buffers, table, scalars, flags, zeroReport);
  if (stopped) return { stopped: { segment: stopped[0], element: stopped[1] } };
  return zeroReport ? { zeroReport } : RAN;
}

/** The 'js' backend's pre-pass: the same facts as native/guard.cc, in the same order. */
function prePassReference(segments: readonly Segment[], prePass: PrePass): StepOutcome {
  if (prePass.nonFinite) {
    for (let k = 0; k < segments.length; k++) {
      const element = firstNonFiniteReference(segments[k]!.grad);
      if (element >= 0) return { stopped: { segment: k, element } };
    }
  }
  if (!prePass.zeroScan) return RAN;
  const G = addon.reduceLayout.guard;
  const zeroReport = new Uint8Array(segments.length);
  segments.forEach((s, k) => {
    if (!allZeroReference(s.grad)) return;
    zeroReport[k] = G.ZERO_GRAD | (allZeroReference(s.param) ? G.ZERO_PARAM : 0) | (allZeroReference(s.expAvg) ? G.ZERO_EXP_AVG : 0);
  });
  return { zeroReport };
}
