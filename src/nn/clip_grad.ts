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

export interface ClipGradNormOptions {
  /** The p of the p-norm: any number > 0, or 'inf' (Infinity) for the largest |element|.
   * Default 2. */
  normType?: number | 'inf';
  /** Throw (code ERR_NON_FINITE) when the total norm is NaN or ±Inf, before any grad changes.
   * Default false: the grads are then scaled by the non-finite coefficient, as in PyTorch. */
  errorIfNonfinite?: boolean;
}

const WHERE = 'clipGradNorm()';
const f = Math.fround;

/**
 * Scales the gradients of `params` in place so that their total norm is at most `maxNorm`, and
 * returns the total norm before clipping (a float32 value), as torch.nn.utils.clip_grad_norm_:
 * each grad's p-norm, then the p-norm of those norms (for 'inf', their maximum); then every
 * grad is multiplied by min(maxNorm / (total + 1e-6), 1), computed in float32 as PyTorch does.
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

/** Per-grad norms rounded to float32 as PyTorch's tensors hold them, then their norm. */
function totalNorm(grads: readonly Float32Array[], p: number): number {
  if (p === Infinity) {
    let best = 0;
    for (const norm of reduceEach(grads, 'maxAbs', 0, WHERE)) {
      if (Number.isNaN(norm)) return NaN;
      if (norm > best) best = norm;
    }
    return best;
  }
  const norms =
    p === 2
      ? Array.from(reduceEach(grads, 'sumSq', 0, WHERE), (s) => f(Math.sqrt(s)))
      : p === 1
        ? Array.from(reduceEach(grads, 'sumAbs', 0, WHERE), f)
        : Array.from(reduceEach(grads, 'sumPowAbs', p, WHERE), (s) => f(Math.pow(s, 1 / p)));
  if (norms.length === 1) return norms[0]!;
  let sum = 0;
  for (const norm of norms) sum += p === 2 ? norm * norm : p === 1 ? norm : Math.pow(norm, p);
  return f(p === 2 ? Math.sqrt(sum) : p === 1 ? sum : Math.pow(sum, 1 / p));
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
