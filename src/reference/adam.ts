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
function maxNan(a: number, b: number): number {
  return a !== a ? a : a > b ? a : b;
}

/** One Adam step over elements [0, n) of the given arrays, in place. */
export function adamStepReference(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
  s: AdamScalars,
): void {
  const f = Math.fround;
  const beta1 = f(s.beta1), oneMinusBeta1 = f(s.oneMinusBeta1);
  const beta2 = f(s.beta2), oneMinusBeta2 = f(s.oneMinusBeta2);
  const eps = f(s.eps), weightDecay = f(s.weightDecay), decayFactor = f(s.decayFactor);
  const biasCorrection2Sqrt = f(s.biasCorrection2Sqrt), negStepSize = f(s.negStepSize);
  const n = param.length;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = s.maximize ? -grad[i]! : grad[i]!;
    if (s.decoupledDecay) p = f(p * decayFactor);
    if (s.coupledDecay) g = f(g + f(weightDecay * p));
    const m = f(f(expAvg[i]! * beta1) + f(oneMinusBeta1 * g));
    let v = f(f(expAvgSq[i]! * beta2) + f(f(oneMinusBeta2 * g) * g));
    expAvg[i] = m;
    expAvgSq[i] = v;
    if (s.amsgrad) {
      v = maxNan(maxExpAvgSq![i]!, v);
      maxExpAvgSq![i] = v;
    }
    const denom = f(f(f(Math.sqrt(v)) / biasCorrection2Sqrt) + eps);
    param[i] = f(p + f(f(negStepSize * m) / denom));
  }
}
