import { inspect } from 'node:util';

import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { inspectCustom } from '../common/inspect_custom.js';
import { readOnlyError, refusePytorchSpellings } from '../common/members.js';
import { checkKeys, checkOptionsObject, describe, isDetached, isFloat32Array, isResizable } from '../common/validate.js';

/** Options of `new Parameter(data, options)`. */
export interface ParameterOptions {
  /** Used in error messages, `explain()` and state dicts (`param_names`), and required (unique)
   * to save the parameter in a checkpoint file. Default: none (undefined). Not a string: TypeError
   * `ERR_OPTION`. */
  name?: string;
  /** Dimensions, each an integer ≥ 0, row-major like PyTorch's. Default `[data.length]`; its
   * product must equal `data.length` (`[]` is a 0-d scalar of one element). Otherwise TypeError
   * or RangeError `ERR_SHAPE`. */
  shape?: readonly number[];
  /** `false` freezes the parameter: `step()` never touches it or its state. Default `true`.
   * Not a boolean: TypeError `ERR_OPTION`. */
  requiresGrad?: boolean;
}

const PARAMETER_OPTIONS = ['name', 'shape', 'requiresGrad'] as const;

/** Assignments to any Parameter's `grad` or `requiresGrad` so far. A cached step plan that saw
 * this count when it last checked every parameter need not read them again: after a large step
 * each read is a cache miss (about 20 ns a parameter), as much as 5% of the step. */
let assignments = 0;

/** See `assignments`. */
export function parameterAssignments(): number {
  return assignments;
}

/**
 * A trainable tensor: a `Float32Array` of values, its gradient, and whether it is trainable.
 *
 * `grad` is a plain field, validated when `step()` uses it. Leave it `null` (the default, and
 * what `zeroGrad()` sets) for a parameter that must not move: a zero-filled gradient still
 * receives weight decay and momentum, exactly as in PyTorch.
 *
 * `new Parameter(data, options?)` keeps `data` itself (no copy): `step()` updates it in place.
 *
 * @throws TypeError `ERR_PARAM_TYPE` if `data` is not a Float32Array; SimdAdamError
 *   `ERR_DETACHED` if its buffer was transferred away.
 * @throws TypeError / RangeError `ERR_SHAPE` for a bad `shape`, TypeError `ERR_OPTION` for an
 *   unknown option or a wrong type (see {@link ParameterOptions}).
 */
export class Parameter {
  /** The gradient for the next `step()`, the same length as `data`, or `null` to skip it. Any
   * value may be assigned: `step()` validates it. */
  declare grad: Float32Array | null;
  readonly #data: Float32Array;
  readonly #name: string | undefined;
  readonly #shape: readonly number[];
  readonly #numel: number;
  #requiresGrad: boolean;
  #grad: Float32Array | null = null;

  /** `grad` is an own, enumerable property like a plain field; assigning it is counted. */
  static readonly #gradProperty: PropertyDescriptor = {
    enumerable: true,
    get(this: Parameter): Float32Array | null {
      return this.#grad;
    },
    set(this: Parameter, value: Float32Array | null) {
      this.#grad = value;
      assignments++;
    },
  };

  constructor(data: Float32Array, options?: ParameterOptions) {
    const where = 'new Parameter()';
    if (!isFloat32Array(data)) {
      throw typeError('ERR_PARAM_TYPE', `${where}: data must be a Float32Array, got ${describe(data)}`);
    }
    if (isDetached(data)) {
      throw new SimdAdamError('ERR_DETACHED', `${where}: data's buffer was detached (transferred by postMessage or structuredClone?); it has no elements left to train`);
    }
    if (isResizable(data)) {
      throw new SimdAdamError('ERR_RESIZABLE', `${where}: data's buffer is resizable (or growable); a resize under a running step would leave it writing past the end, so only fixed-length buffers are accepted`);
    }
    const opts = checkOptionsObject(options, where);
    checkKeys(opts, PARAMETER_OPTIONS, where);
    if (opts.name !== undefined && typeof opts.name !== 'string') {
      throw typeError('ERR_OPTION', `${where}: name must be a string, got ${describe(opts.name)}`);
    }
    const shape = opts.shape === undefined ? [data.length] : checkShape(opts.shape, where);
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel !== data.length) {
      throw rangeError(
        'ERR_SHAPE',
        `${where}: shape [${shape.join(', ')}] holds ${numel} elements but data has length ${data.length}`,
      );
    }
    const requiresGrad = opts.requiresGrad === undefined ? true : opts.requiresGrad;
    if (typeof requiresGrad !== 'boolean') {
      throw typeError('ERR_OPTION', `${where}: requiresGrad must be a boolean, got ${describe(requiresGrad)}`);
    }
    this.#data = data;
    Object.defineProperty(this, 'grad', Parameter.#gradProperty);
    this.#name = opts.name as string | undefined;
    this.#shape = Object.freeze(shape);
    this.#numel = numel;
    this.#requiresGrad = requiresGrad;
  }

  /** The values, updated in place by `step()`. The array is never replaced: optimizers keep
   * updating the array they were given, so a replacement would leave the model untrained. Copy
   * new values in with `p.data.set(values)`.
   * @throws TypeError (code ERR_READONLY) on assignment, in strict and sloppy code alike. */
  get data(): Float32Array {
    return this.#data;
  }

  set data(_value: never) {
    throw readOnlyError(`Parameter${this.#tag}: data`, 'copy new values into the array with p.data.set(values)');
  }

  /** Used in error messages, `explain()` and state dicts (`param_names`). Fixed at construction.
   * @throws TypeError (code ERR_READONLY) on assignment. */
  get name(): string | undefined {
    return this.#name;
  }

  set name(_value: never) {
    throw readOnlyError(`Parameter${this.#tag}: name`, 'it is fixed at construction: new Parameter(data, { name })');
  }

  /** Defaults to `[data.length]`; fixed at construction. @throws TypeError (code ERR_READONLY)
   * on assignment. */
  get shape(): readonly number[] {
    return this.#shape;
  }

  set shape(_value: never) {
    throw readOnlyError(`Parameter${this.#tag}: shape`, 'it is fixed at construction: new Parameter(data, { shape })');
  }

  /** Number of elements: the product of `shape`, fixed at construction. @throws TypeError
   * (code ERR_READONLY) on assignment. */
  get numel(): number {
    return this.#numel;
  }

  set numel(_value: never) {
    throw readOnlyError(`Parameter${this.#tag}: numel`, 'it is data.length, fixed at construction');
  }

  /** `false` freezes the parameter: `step()` skips it whatever `grad` holds, and `zeroGrad()`
   * clears its grad. (PyTorch would step a frozen tensor that had a grad; we never do.)
   * Default true. Assigning anything but a boolean throws a TypeError, `ERR_OPTION`. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (typeof value !== 'boolean') {
      throw typeError('ERR_OPTION', `Parameter${this.#tag}: requiresGrad must be a boolean, got ${describe(value)}`);
    }
    this.#requiresGrad = value;
    assignments++;
  }

  /** How this parameter is named in messages. @throws TypeError (code ERR_READONLY) on
   * assignment.
   * @internal */
  get label(): string {
    return this.#name === undefined ? 'an unnamed parameter' : `'${this.#name}'`;
  }

  set label(_value: never) {
    throw readOnlyError(`Parameter${this.#tag}: label`, 'it follows from name');
  }

  get #tag(): string {
    return this.#name === undefined ? '' : ` '${this.#name}'`;
  }

  /** What console.log and util.inspect show: the fields, as own properties would be. */
  [inspectCustom](depth: number, options: { readonly depth?: number | null }): string {
    const fields = { name: this.#name, shape: this.#shape, requiresGrad: this.#requiresGrad, data: this.#data, grad: this.grad };
    return depth < 0 ? 'Parameter' : `Parameter ${inspect(fields, { ...options, depth: options.depth == null ? null : options.depth - 1 })}`;
  }
}

refusePytorchSpellings(Parameter);

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) {
    throw typeError('ERR_SHAPE', `${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw rangeError('ERR_SHAPE', `${where}: shape must hold non-negative integers, got [${shape.map(String).join(', ')}]`);
    }
  }
  return [...shape] as number[];
}
