/**
 * SimdAdam and SimdAdamW: tf.Optimizer subclasses whose update is simd-adam's native Adam
 * kernel, for model.compile/model.fit, minimize() and applyGradients().
 */
import type * as tf from '@tensorflow/tfjs-core';

import { SimdAdamError, type AdamOptions } from '../index.js';
import { coreOptions, resolveOptions, type Hyperparameters, type SimdAdamOptions } from './options.js';
import { VariableTable, type Update } from './variables.js';
import { decodeWeights, encodeWeights, type NamedTensor } from './weights.js';
import { tfCore } from './load_core.js';

/** What SimdAdam and SimdAdamW share; `decoupled` is what tells them apart. */
abstract class SimdAdamBase extends tfCore.Optimizer {
  #hyper: Hyperparameters;
  readonly #decoupled: boolean;
  readonly #table = new VariableTable();
  /** The tensors the last getWeights() returned: ours, disposed by the next call or dispose(). */
  #lent: tf.Tensor[] = [];

  protected constructor(options: SimdAdamOptions | undefined, decoupled: boolean, className: string) {
    super();
    this.#decoupled = decoupled;
    this.#hyper = resolveOptions(options, decoupled, `new ${className}()`);
  }

  /** Learning rate, ≥ 0; may be changed between steps.
   * @throws RangeError / TypeError (code ERR_OPTION) for a bad value; nothing changes then. */
  get lr(): number {
    return this.#hyper.lr;
  }

  set lr(value: number) {
    this.#hyper = resolveOptions({ ...this.#hyper, lr: value }, this.#decoupled, `${this.getClassName()}.lr`);
  }

  /** The learning rate under tf.train.adam's name, for callbacks written against it. */
  get learningRate(): number {
    return this.lr;
  }

  set learningRate(value: number) {
    this.lr = value;
  }

  /** Decay rates of the moment estimates, each in [0, 1); default [0.9, 0.999]. */
  get betas(): readonly [number, number] {
    return this.#hyper.betas;
  }

  /** Added to the denominator, ≥ 0; default 1e-8 (tf.train.adam's is 1e-7). */
  get eps(): number {
    return this.#hyper.eps;
  }

  /** ≥ 0; coupled for SimdAdam (default 0), decoupled for SimdAdamW (default 1e-2). */
  get weightDecay(): number {
    return this.#hyper.weightDecay;
  }

  /** Whether the maximum of past second moments is used; default false. */
  get amsgrad(): boolean {
    return this.#hyper.amsgrad;
  }

  /** Whether the objective is maximised; default false. */
  get maximize(): boolean {
    return this.#hyper.maximize;
  }

  /**
   * Updates the variables named in `variableGradients` (a `{ name: gradient }` map or a list
   * of `{ name, tensor }`), in place where the backend allows. A variable whose gradient is
   * null or missing is skipped as simd-adam skips `grad = null`: no state, no weight decay, no
   * momentum. A variable with `trainable: false` never moves. Counts one iteration.
   * @throws TypeError (code ERR_GRAD_TYPE) for a gradient that is not a live float32 tensor;
   * RangeError (code ERR_SHAPE) for a gradient of another shape than its variable;
   * SimdAdamError (code ERR_PARAM_TYPE) for a name that is no registered float32 variable,
   * (code ERR_DUPLICATE_PARAM) for a variable listed twice, and simd-adam's step errors.
   * Nothing is changed when it throws.
   */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const where = `${this.getClassName()}.applyGradients()`;
    const { listed, updates } = readGradients(variableGradients, where);
    this.#table.step(listed, updates, this.#hyper, this.#core(), where);
    this.incrementIterations();
  }

  /** `iter`, then `<var>/m` and `<var>/v` per variable (tf.train.adam's layout; see
   * docs/tfjs.md). The tensors belong to the optimizer: they stay valid until the next
   * getWeights() or dispose(); clone them to keep them longer. */
  override async getWeights(): Promise<NamedTensor[]> {
    tfCore.dispose(this.#lent);
    const weights = encodeWeights(this.iterations, this.#table.states());
    this.#lent = weights.map((w) => w.tensor);
    return weights;
  }

  /** Replaces all state with weights from getWeights(), ours or tf.train.adam's. The next step
   * matches them to its variables by name when every name is among them, else by position in
   * its gradient list (as tf.train.adam does), and throws SimdAdamError (code ERR_STATE_DICT)
   * if the sizes or the count disagree. Reads copies: the caller may dispose the tensors.
   * @throws SimdAdamError (code ERR_STATE_DICT) naming a missing or malformed weight; nothing
   * is changed then. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const { iterations, states } = await decodeWeights(weightValues, this.#hyper.amsgrad, `${this.getClassName()}.setWeights()`);
    this.#table.load(states);
    this.iterations_ = iterations;
  }

  /** Frees the state of every variable; the next step starts afresh. */
  override dispose(): void {
    tfCore.dispose(this.#lent);
    this.#lent = [];
    this.#table.clear();
  }

  /** The constructor's options: `{ lr, betas, eps, weightDecay, amsgrad, maximize }`. */
  override getConfig(): tf.serialization.ConfigDict {
    const h = this.#hyper;
    return { lr: h.lr, betas: [h.betas[0], h.betas[1]], eps: h.eps, weightDecay: h.weightDecay, amsgrad: h.amsgrad, maximize: h.maximize };
  }

  /** From getConfig()'s output; other keys (tfjs-layers adds `customObjects`) are ignored. */
  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new cls(optionsFrom(config));
  }

  #core(): AdamOptions {
    return coreOptions(this.#hyper, this.#decoupled);
  }
}

/**
 * Adam with simd-adam's numerics and PyTorch's semantics (coupled weight decay, g += wd·p),
 * for tfjs. Replace `tf.train.adam(lr)` with `new SimdAdam({ lr, eps: 1e-7 })` for the same
 * numbers (tfjs's epsilon is 1e-7; the default here is PyTorch's 1e-8).
 * @throws TypeError / RangeError (code ERR_OPTION) for a bad option.
 */
export class SimdAdam extends SimdAdamBase {
  static readonly className = 'SimdAdam';

  constructor(options?: SimdAdamOptions) {
    super(options, false, 'SimdAdam');
  }
}

/**
 * AdamW (decoupled weight decay, p *= 1 − lr·wd; default weightDecay 1e-2) with simd-adam's
 * numerics, for tfjs, which has no AdamW of its own.
 * @throws TypeError / RangeError (code ERR_OPTION) for a bad option.
 */
export class SimdAdamW extends SimdAdamBase {
  static readonly className = 'SimdAdamW';

  constructor(options?: SimdAdamOptions) {
    super(options, true, 'SimdAdamW');
  }
}

function optionsFrom(config: tf.serialization.ConfigDict): SimdAdamOptions {
  const { lr, betas, eps, weightDecay, amsgrad, maximize } = config as Record<string, unknown>;
  return { lr, betas, eps, weightDecay, amsgrad, maximize } as SimdAdamOptions;
}

/** The variables named, in order, and the updates: trainable ones with a gradient. */
function readGradients(gradients: unknown, where: string): { listed: tf.Variable[]; updates: Update[] } {
  let pairs: Array<[unknown, unknown]>;
  if (Array.isArray(gradients)) {
    pairs = gradients.map((entry: unknown, i) => {
      if (entry === null || typeof entry !== 'object') throw typeError('ERR_GRAD_TYPE', `${where}: variableGradients[${i}] must be { name, tensor }, got ${describe(entry)}`);
      const { name, tensor } = entry as { name?: unknown; tensor?: unknown };
      return [name, tensor];
    });
  } else if (gradients !== null && typeof gradients === 'object') {
    pairs = Object.entries(gradients);
  } else {
    throw typeError('ERR_GRAD_TYPE', `${where}: variableGradients must be a { name: tensor } map or a list of { name, tensor }, got ${describe(gradients)}`);
  }
  const registered = tfCore.engine().registeredVariables;
  const seen = new Set<string>();
  const listed: tf.Variable[] = [];
  const updates: Update[] = [];
  pairs.forEach(([name, grad]) => {
    if (typeof name !== 'string') throw typeError('ERR_GRAD_TYPE', `${where}: a variable name must be a string, got ${describe(name)}`);
    const variable = registered[name];
    if (variable === undefined) throw new SimdAdamError('ERR_PARAM_TYPE', `${where}: '${name}' is not a registered tf.Variable (was it disposed?)`);
    if (variable.dtype !== 'float32') throw new SimdAdamError('ERR_PARAM_TYPE', `${where}: variable '${name}' is ${variable.dtype}; only float32 variables can be trained`);
    if (seen.has(name)) throw new SimdAdamError('ERR_DUPLICATE_PARAM', `${where}: variable '${name}' is listed twice`);
    seen.add(name);
    listed.push(variable);
    if (grad === null || grad === undefined || !variable.trainable) return;
    if (!(grad instanceof tfCore.Tensor) || grad.isDisposed || grad.dtype !== 'float32') {
      const got = grad instanceof tfCore.Tensor ? (grad.isDisposed ? 'a disposed tensor' : `${/^[aeiou]/.test(grad.dtype) ? 'an' : 'a'} ${grad.dtype} tensor`) : describe(grad);
      throw typeError('ERR_GRAD_TYPE', `${where}: the gradient of '${name}' must be a live float32 tf.Tensor, got ${got}`);
    }
    if (!tfCore.util.arraysEqual(grad.shape, variable.shape)) {
      throw Object.assign(new RangeError(`${where}: the gradient of '${name}' has shape [${grad.shape.join(', ')}] but the variable has [${variable.shape.join(', ')}]`), { code: 'ERR_SHAPE' });
    }
    updates.push({ variable, grad });
  });
  return { listed, updates };
}

function typeError(code: string, message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : `${typeof value} ${String(value)}`;
}
