/**
 * The options of SimdAdam and SimdAdamW: simd-adam's camelCase names and defaults, validated
 * by simd-adam's own rules (a throwaway one-element Adam), so that the two never disagree.
 */
import { Parameter, SimdAdamError, type AdamOptions } from '../index.js';
import { Executor } from './executor.js';

/** Options of `new SimdAdam()`; `new SimdAdamW()` takes the same. */
export interface SimdAdamOptions {
  /** Learning rate, ≥ 0. Default 1e-3. */
  lr?: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator, ≥ 0. Default 1e-8, PyTorch's; tf.train.adam uses 1e-7. */
  eps?: number;
  /** ≥ 0. SimdAdam: L2 penalty added to the gradient (g += wd·p), default 0. SimdAdamW:
   * decoupled decay (p *= 1 − lr·wd), default 1e-2. */
  weightDecay?: number;
  /** Use the maximum of past second moments (AMSGrad). Default false. */
  amsgrad?: boolean;
  /** Maximise the objective instead of minimising it. Default false. */
  maximize?: boolean;
}

/** Every hyperparameter, resolved. */
export type Hyperparameters = Required<Omit<SimdAdamOptions, 'betas'>> & { betas: readonly [number, number] };

const KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'] as const;

/** tf.train.adam's argument names, which a tfjs user reaches for first. */
const TFJS_NAMES: Readonly<Record<string, string>> = Object.freeze({
  learningRate: 'lr',
  beta1: 'betas: [beta1, beta2]',
  beta2: 'betas: [beta1, beta2]',
  epsilon: 'eps',
});

/** Defaults filled in and every value checked by simd-adam; `where` names the caller in messages.
 * @throws TypeError (code ERR_OPTION) for an unknown key or a value of the wrong type;
 * RangeError (code ERR_OPTION) for a value out of range. */
export function resolveOptions(options: unknown, decoupled: boolean, where: string): Hyperparameters {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw Object.assign(new TypeError(`${where}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`), { code: 'ERR_OPTION' });
  }
  const given = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      const hint = Object.hasOwn(TFJS_NAMES, key) ? ` (did you mean ${TFJS_NAMES[key]}?)` : '';
      throw Object.assign(new TypeError(`${where}: unknown option '${key}'${hint}; expected one of ${KEYS.join(', ')}`), { code: 'ERR_OPTION' });
    }
  }
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  let probe: Executor;
  try {
    probe = new Executor([[new Parameter(new Float32Array(1))]], { ...coreOptions(defined as SimdAdamOptions, decoupled) });
  } catch (error) {
    throw renamed(error, where);
  }
  const d = probe.defaults;
  return { lr: d.lr, betas: [d.betas[0], d.betas[1]], eps: d.eps, weightDecay: d.weightDecay, amsgrad: d.amsgrad, maximize: d.maximize };
}

/** The options simd-adam's Adam takes for these hyperparameters. AdamW is Adam with decoupled
 * decay and a default weightDecay of 1e-2. */
export function coreOptions(hyper: SimdAdamOptions, decoupled: boolean): AdamOptions {
  return decoupled ? { weightDecay: 1e-2, ...hyper, decoupledWeightDecay: true } : { ...hyper, decoupledWeightDecay: false };
}

/** The same error, naming our constructor instead of Adam's. */
function renamed(error: unknown, where: string): unknown {
  if (!(error instanceof Error)) return error;
  const message = error.message.replace(/^new Adam\(\)(: options)?/, where);
  const code = (error as { code?: unknown }).code;
  if (error instanceof SimdAdamError) return new SimdAdamError(error.code, message);
  const copy = error instanceof RangeError ? new RangeError(message) : error instanceof TypeError ? new TypeError(message) : new Error(message);
  return Object.assign(copy, code === undefined ? {} : { code });
}
