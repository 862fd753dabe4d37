/**
 * clipGradNorm: torch.nn.utils.clip_grad_norm_ (PyTorch 1.13) for Parameters. The per-gradient
 * reductions and the scaling run natively, one crossing each, with the selected backend.
 */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { checkGrad } from '../engine/grad_check.js';
import { firstOverlap, firstSelfOverlap } from '../engine/overlap.js';
import { Parameter } from './parameter.js';
import { reduceEach, scaleEach } from '../engine/reduce.js';
import { checkBoolean, checkKeys, checkOptionsObject, describe } from '../common/validate.js';

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** The p of the p-norm: any number > 0, or 'inf' (Infinity) for the largest |element|.
   * Default 2. Not a number or 'inf': TypeError; ≤ 0 or NaN: RangeError (`ERR_OPTION`). */
  normType?: number | 'inf';
  /** Throw (code ERR_NON_FINITE) when the total norm is NaN or ±Inf, before any grad changes.
   * Default false: the grads are then scaled by the non-finite coefficient, as in PyTorch.
   * Not a boolean: TypeError `ERR_OPTION`. */
  errorIfNonfinite?: boolean;
}

const WHERE = 'clipGradNorm()';
const f = Math.fround;

/**
 * Scales the gradients of `params` in place so that their total norm is at most `maxNorm`, and
 * returns the total norm before clipping (a float32 value), as torch.nn.utils.clip_grad_norm_:
 * each grad's p-norm, then the p-norm of those norms (for 'inf', their maximum); then every
 * grad is multiplied by min(maxNorm / (total + 1e-6), 1), computed in float32 as PyTorch does.
 * The norms have PyTorch 1.13's float32 outcome: a sum beyond the float32 range makes the total
 * inf (the grads are then scaled by 0, or `errorIfNonfinite` throws), and terms below it vanish.
 *
 * Parameters whose grad is null are ignored. So are frozen ones (requiresGrad = false): as in
 * step(), simd-adam never touches a frozen parameter's grad (PyTorch would include it).
 * Returns 0 when no parameter has a grad.
 *
 * @throws SimdAdamError ERR_BUSY if a running step (a stepAsync() of any optimizer, in any
 * worker) reads one of these grads: no grad was changed.
 *
 * ```ts
 * const total = clipGradNorm([w, b], 1.0);               // L2
 * clipGradNorm(model, 0.5, { normType: 'inf' });
 * ```
 *
 * @param params A Parameter or an iterable of them.
 * @param maxNorm The largest total norm allowed: a number ≥ 0 (Infinity allowed: no clipping).
 * @param options `normType` (default 2) and `errorIfNonfinite` (default false).
 * @returns The total norm before clipping, in the grads' units.
 * @throws TypeError `ERR_PARAM_TYPE` for params that are not Parameters; TypeError / RangeError
 *   `ERR_OPTION` for a bad `maxNorm` or option.
 * @throws The grad errors of step(): TypeError `ERR_GRAD_TYPE`, RangeError `ERR_GRAD_LENGTH`,
 *   SimdAdamError `ERR_DETACHED`.
 * @throws SimdAdamError `ERR_GRAD_ALIAS` if grads share memory with each other or with a
 *   parameter's data; `ERR_NON_FINITE` with `errorIfNonfinite` and a non-finite total. In every
 *   case no grad was changed.
 */
export function clipGradNorm(params: Parameter | Iterable<Parameter>, maxNorm: number, options?: ClipGradNormOptions): number {
  const list = toParameters(params);
  if (typeof maxNorm !== 'number') throw typeError('ERR_OPTION', `${WHERE}: maxNorm must be a number >= 0, got ${describe(maxNorm)}`);
  if (!(maxNorm >= 0)) throw rangeError('ERR_OPTION', `${WHERE}: maxNorm must be a number >= 0, got ${describe(maxNorm)}`);
  const opts = checkOptionsObject(options, WHERE);
  checkKeys(opts, ['normType', 'errorIfNonfinite'], WHERE);
  const p = normTypeOf(opts.normType);
  const errorIfNonfinite = opts.errorIfNonfinite === undefined ? false : checkBoolean(opts.errorIfNonfinite, 'errorIfNonfinite', WHERE);

  const used: Parameter[] = [];
  list.forEach((param, i) => {
    if (!param.requiresGrad || param.grad === null) return;
    checkGrad(param, `${WHERE}: params[${i}] (${param.label})`);
    used.push(param);
  });
  if (used.length === 0) return 0;
  checkDisjoint(used, list);
  const grads = used.map((param) => param.grad!);

  const total = totalNorm(grads, p);
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new SimdAdamError(
      'ERR_NON_FINITE',
      `${WHERE}: the total norm of order ${p === Infinity ? 'inf' : p} of the gradients is ${total}, so they cannot be clipped; ` +
        'no grad was changed (pass errorIfNonfinite: false to scale them by the non-finite norm anyway)',
    );
  }
  // PyTorch: max_norm / (total_norm + 1e-6) on a float32 tensor, where a Python number divided
  // by a tensor is reciprocal() times the number; then clamp(max=1.0), which keeps a NaN.
  const coef = f(f(1 / f(total + f(1e-6))) * f(maxNorm));
  const clamped = coef > 1 ? 1 : coef;
  // x * 1 is x for every float, so the unclipped case skips the pass PyTorch would make.
  if (clamped !== 1) scaleEach(grads, clamped, WHERE);
  return total;
}

/** Below this a double sum of terms differs from PyTorch's float32 one by more than rounding:
 * float32 flushes each term under 2^-149 to 0 and rounds the subnormal ones coarsely, an error
 * of at most 2^-150 a term, which at 2^30 terms is 2^-24 of this. */
const UNDERFLOW_SUM = 2 ** -96;

/** Σ|x|^p of one grad as PyTorch 1.13 accumulates it, in float32, element by element: only
 * used where the native double sum would differ (see UNDERFLOW_SUM). */
function float32Sum(grad: Float32Array, p: number): number {
  let acc = 0;
  for (let i = 0; i < grad.length; i++) {
    const x = Math.abs(grad[i]!);
    acc = f(acc + (p === 1 ? x : p === 2 ? f(x * x) : f(Math.pow(x, p))));
  }
  return acc;
}

/** The p-norm of a sum of |x|^p, rounded to float32 as PyTorch's tensors hold it. */
function root(sum: number, p: number): number {
  return f(p === 1 ? sum : p === 2 ? Math.sqrt(sum) : Math.pow(sum, 1 / p));
}

/**
 * Each grad's norm, then the norm of those norms, with PyTorch 1.13's float32 outcome: its
 * float32 accumulator overflows to inf where the exact sum exceeds the float32 range (so a grad
 * [2e19] has norm inf, and so do two grads [1.5e19] together though each alone is finite), and
 * terms too small for float32 vanish. The native pass sums in double; where that could differ
 * from float32 beyond rounding, the result is made float32's: an overflowing sum is inf, and a
 * tiny one is summed again in float32.
 */
function totalNorm(grads: readonly Float32Array[], p: number): number {
  if (p === Infinity) {
    let best = 0;
    for (const norm of reduceEach(grads, 'maxAbs', 0, WHERE)) {
      if (Number.isNaN(norm)) return NaN;
      if (norm > best) best = norm;
    }
    return best;
  }
  const sums = p === 2 ? reduceEach(grads, 'sumSq', 0, WHERE) : p === 1 ? reduceEach(grads, 'sumAbs', 0, WHERE) : reduceEach(grads, 'sumPowAbs', p, WHERE);
  const norms = Array.from(sums, (sum, i) => root(f(sum) === Infinity ? Infinity : sum > 0 && sum < UNDERFLOW_SUM ? float32Sum(grads[i]!, p) : sum, p));
  // torch.norm(torch.stack(norms)): the same float32 accumulation over the norms, even for one.
  return root(float32Sum(Float32Array.from(norms), p), p);
}

function normTypeOf(value: unknown): number {
  if (value === undefined) return 2;
  if (value === 'inf') return Infinity;
  if (typeof value !== 'number') {
    throw typeError('ERR_OPTION', `${WHERE}: normType must be a number > 0 or 'inf', got ${describe(value)}`);
  }
  if (!(value > 0)) throw rangeError('ERR_OPTION', `${WHERE}: normType must be a number > 0 or 'inf', got ${describe(value)}`);
  return value;
}

/** A single Parameter (as PyTorch accepts a single tensor) or an iterable of them. */
function toParameters(params: unknown): Parameter[] {
  if (params instanceof Parameter) return [params];
  if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
    throw typeError('ERR_PARAM_TYPE', `${WHERE}: params must be a Parameter or an iterable of Parameters, got ${describe(params)}`);
  }
  const list = [...(params as Iterable<unknown>)];
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) throw typeError('ERR_PARAM_TYPE', `${WHERE}: params[${i}] must be a Parameter, got ${describe(p)}`);
  });
  return list as Parameter[];
}

/**
 * The grads are scaled in place, so no two may share memory, and none may lie in a parameter's
 * data. PyTorch would count shared storage twice in the norm and scale it twice (once per grad
 * that holds it), silently: a grad assigned to two parameters is legal for step(), which only
 * reads it, but here it is an error (ERR_GRAD_ALIAS) raised before anything is written.
 */
function checkDisjoint(used: readonly Parameter[], list: readonly Parameter[]): void {
  const name = (p: Parameter): string => `params[${list.indexOf(p)}] (${p.label})`;
  const grads = used.map((p) => ({ view: p.grad!, tag: p }));
  const shared = firstSelfOverlap(grads);
  if (shared) {
    throw new SimdAdamError(
      'ERR_GRAD_ALIAS',
      `${WHERE}: the grads of ${name(shared.a.tag)} and ${name(shared.b.tag)} share memory, which would be counted ` +
        'twice in the norm and scaled twice; no grad was changed. Give each parameter a grad of its own',
    );
  }
  const hit = firstOverlap(grads, list.map((p) => ({ view: p.data, tag: p })));
  if (hit) {
    throw new SimdAdamError(
      'ERR_GRAD_ALIAS',
      `${WHERE}: the grad of ${name(hit.read.tag)} shares memory with the data of ${name(hit.write.tag)}, which scaling it would change; no grad was changed`,
    );
  }
}
