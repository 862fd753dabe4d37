/**
 * The Adam update in plain TypeScript: the `js` backend and the oracle every native kernel is
 * tested against. Math.fround after every operation makes double arithmetic round exactly as
 * float32 does (double has more than 2×24+2 bits, so the double rounding is innocuous for +, −,
 * ×, ÷ and sqrt), and there is no fused multiply-add: the native kernels match it bit for bit.
 */

/** Per-tensor scalars, in double; each is rounded to float32 once, as the native glue does. */
export interface AdamScalars {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  eps: number;
  weightDecay: number;
  decayFactor: number;
  biasCorrection2Sqrt: number;
  negStepSize: number;
  amsgrad: boolean;
  maximize: boolean;
  coupledDecay: boolean;
  decoupledDecay: boolean;
}

export interface AdamHyper {
  lr: number;
  /** How the moments are stored (the math is the same). */
  stateDtype?: 'float32' | 'bfloat16' | '8bit';
  /** In an '8bit' group, tensors with fewer elements keep float32 state. */
  min8bitSize?: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  decoupledWeightDecay: boolean;
}

/** Bias corrections and step size for `step` (already incremented), computed in double with
 * Math.pow: never by repeated multiplication, which drifts over a long run. */
export function adamScalars(h: AdamHyper, step: number): AdamScalars {
  const biasCorrection1 = 1 - Math.pow(h.beta1, step);
  const biasCorrection2 = 1 - Math.pow(h.beta2, step);
  const decays = h.weightDecay !== 0;
  return {
    beta1: h.beta1,
    oneMinusBeta1: 1 - h.beta1,
    beta2: h.beta2,
    oneMinusBeta2: 1 - h.beta2,
    eps: h.eps,
    weightDecay: h.weightDecay,
    decayFactor: 1 - h.lr * h.weightDecay,
    biasCorrection2Sqrt: Math.sqrt(biasCorrection2),
    negStepSize: -(h.lr / biasCorrection1),
    amsgrad: h.amsgrad,
    maximize: h.maximize,
    coupledDecay: decays && !h.decoupledWeightDecay,
    decoupledDecay: decays && h.decoupledWeightDecay,
  };
}

/** torch.maximum: NaN in either operand wins; otherwise (a > b ? a : b), like x86's maxps. */
export function maxNan(a: number, b: number): number {
  return a !== a ? a : a > b ? a : b;
}

/** The per-tensor scalars rounded to float32 once, as a kernel call broadcasts them, and the
 * scalars they came from. */
export type AdamConsts = Omit<AdamScalars, 'amsgrad' | 'maximize' | 'coupledDecay' | 'decoupledDecay'> & { s: AdamScalars };

export function adamConsts(s: AdamScalars): AdamConsts {
  const f = Math.fround;
  return {
    beta1: f(s.beta1),
    oneMinusBeta1: f(s.oneMinusBeta1),
    beta2: f(s.beta2),
    oneMinusBeta2: f(s.oneMinusBeta2),
    eps: f(s.eps),
    weightDecay: f(s.weightDecay),
    decayFactor: f(s.decayFactor),
    biasCorrection2Sqrt: f(s.biasCorrection2Sqrt),
    negStepSize: f(s.negStepSize),
    s,
  };
}

/** One element's update, shared by every state format: `io` holds [p, m, v, vmax] in (the
 * stored moments, vmax only with amsgrad) and receives the new values. */
export function adamUpdate(k: AdamConsts, grad: number, io: Float64Array): void {
  const f = Math.fround;
  let p = io[0]!;
  let g = k.s.maximize ? -grad : grad;
  if (k.s.decoupledDecay) p = f(p * k.decayFactor);
  if (k.s.coupledDecay) g = f(g + f(k.weightDecay * p));
  const m = f(f(io[1]! * k.beta1) + f(k.oneMinusBeta1 * g));
  let v = f(f(io[2]! * k.beta2) + f(f(k.oneMinusBeta2 * g) * g));
  io[1] = m;
  io[2] = v;
  if (k.s.amsgrad) v = io[3] = maxNan(io[3]!, v);
  const denom = f(f(f(Math.sqrt(v)) / k.biasCorrection2Sqrt) + k.eps);
  io[0] = f(p + f(f(k.negStepSize * m) / denom));
}

/** One Adam step over the elements of `param`, in place. */
export function adamStepReference(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
  s: AdamScalars,
): void {
  adamStepFloat32(adamConsts(s), param, grad, expAvg, expAvgSq, maxExpAvgSq);
}

/** adamStepReference with the per-tensor constants already rounded: the low-bit references run
 * it a block at a time over their moments decoded to float32. */
export function adamStepFloat32(
  k: AdamConsts,
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
): void {
  const amsgrad = k.s.amsgrad;
  const io = new Float64Array(4);
  const n = param.length;
  for (let i = 0; i < n; i++) {
    io[0] = param[i]!;
    io[1] = expAvg[i]!;
    io[2] = expAvgSq[i]!;
    if (amsgrad) io[3] = maxExpAvgSq![i]!;
    adamUpdate(k, grad[i]!, io);
    param[i] = io[0]!;
    expAvg[i] = io[1]!;
    expAvgSq[i] = io[2]!;
    if (amsgrad) maxExpAvgSq![i] = io[3]!;
  }
}
