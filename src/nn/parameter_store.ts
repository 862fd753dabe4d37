/**
 * A model's parameters allocated in one buffer and their grads in another, contiguous and in
 * order, so that an optimizer steps the whole model as one kernel segment (and the threads split
 * it at cache lines). Grads are views that never change identity: attachGrads() after zeroGrad()
 * costs one assignment per parameter and keeps the optimizer's cached step plan.
 */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { addon } from '../native/addon.js';
import { whileClaimed } from '../engine/claims.js';
import { Parameter } from './parameter.js';
import { checkBoolean, checkKeys, checkOptionsObject, describe } from '../common/validate.js';
import { lockFields, refusePytorchSpellings } from '../common/members.js';

/** Options of {@link ParameterStore.attachGrads}. */
export interface AttachGradsOptions {
  /** `true` (the default): fill the attached views with zeros first, for a backward that adds
   * into the grads (`grad[i] += …`, as autograd accumulates). `false`: leave them as they are,
   * for a backward that overwrites every element (it saves one pass over the grads). */
  zero?: boolean;
}

/** One parameter of a {@link ParameterStore}. */
export interface ParameterSpec {
  /** Unique within the store. Default: the parameter's index in the store, as a string
   * (`'0'`, `'1'`, ...). A name used twice: SimdAdamError `ERR_DUPLICATE_PARAM`. */
  name?: string;
  /** Dimensions, each an integer ≥ 0. Required, no default: missing or not an array is a
   * TypeError, a bad dimension a RangeError (`ERR_SHAPE`). */
  shape: readonly number[];
  /** Default true; false freezes the parameter, as {@link Parameter.requiresGrad}. */
  requiresGrad?: boolean;
  /** Initial values, copied; exactly as many as `shape` holds (else RangeError `ERR_SHAPE`).
   * Default: zeros. */
  init?: ArrayLike<number>;
}

const SPEC_KEYS = ['name', 'shape', 'requiresGrad', 'init'] as const;
const LINE_FLOATS = 16;

/** `length` floats in a fresh buffer, starting on a 64-byte boundary of memory. */
function alignedFloats(length: number): Float32Array {
  const buffer = new ArrayBuffer((length + LINE_FLOATS) * Float32Array.BYTES_PER_ELEMENT);
  const misaligned = addon.alignment(buffer) / Float32Array.BYTES_PER_ELEMENT;
  return new Float32Array(buffer, ((LINE_FLOATS - misaligned) % LINE_FLOATS) * Float32Array.BYTES_PER_ELEMENT, length);
}

/**
 * A whole model in two buffers: every parameter's values contiguous in `data`, every gradient in
 * `grads`, both starting on a 64-byte boundary, so that a step runs over the model as one kernel
 * segment. `new ParameterStore(specs)` takes the parameters in order ({@link ParameterSpec}).
 *
 * @throws TypeError `ERR_PARAM_GROUP` if `specs` is not an iterable; TypeError `ERR_OPTION`
 *   for an unknown key in a spec; TypeError / RangeError `ERR_SHAPE` for a bad shape or `init`;
 *   SimdAdamError `ERR_DUPLICATE_PARAM` for a name used twice.
 */
export class ParameterStore {
  /** Every parameter's values, in order: `params[i].data` is a view of it. */
  readonly data: Float32Array;
  /** Every parameter's gradient, in order, in a buffer of its own: what your backward pass writes. */
  readonly grads: Float32Array;
  /** The parameters, in the order of the specs: pass them to an optimizer. */
  readonly params: readonly Parameter[];
  readonly #gradViews: readonly Float32Array[];
  readonly #byName = new Map<string, Parameter>();

  constructor(specs: Iterable<ParameterSpec>) {
    const where = 'new ParameterStore()';
    if (specs === null || typeof specs !== 'object' || !(Symbol.iterator in specs)) {
      throw typeError('ERR_PARAM_GROUP', `${where}: expected an iterable of { shape, name?, requiresGrad?, init? }, got ${describe(specs)}`);
    }
    const list = [...specs].map((spec, i) => {
      const at = `${where}: specs[${i}]`;
      const opts = checkOptionsObject(spec, at);
      checkKeys(opts, SPEC_KEYS, at);
      if (!Array.isArray(opts.shape)) throw typeError('ERR_SHAPE', `${at}: shape must be an array of non-negative integers, got ${describe(opts.shape)}`);
      const numel = (opts.shape as number[]).reduce((a, b) => a * (Number.isInteger(b) && b >= 0 ? b : NaN), 1);
      return { spec: spec as ParameterSpec, numel: Number.isNaN(numel) ? 0 : numel, at };
    });
    const total = list.reduce((n, s) => n + s.numel, 0);
    this.data = alignedFloats(total);
    this.grads = alignedFloats(total);
    const params: Parameter[] = [];
    const gradViews: Float32Array[] = [];
    let offset = 0;
    for (const [i, { spec, numel, at }] of list.entries()) {
      const data = this.data.subarray(offset, offset + numel);
      const name = spec.name ?? String(i);
      const p = new Parameter(data, { name, shape: spec.shape, ...(spec.requiresGrad === undefined ? {} : { requiresGrad: spec.requiresGrad }) });
      if (spec.init !== undefined) {
        if (spec.init === null || typeof spec.init !== 'object' || spec.init.length !== numel) {
          throw rangeError('ERR_SHAPE', `${at}: init must hold ${numel} numbers, got ${describe(spec.init)}`);
        }
        data.set(spec.init);
      }
      if (this.#byName.has(name)) throw new SimdAdamError('ERR_DUPLICATE_PARAM', `${at}: the name '${name}' is already in the store`);
      this.#byName.set(name, p);
      params.push(p);
      gradViews.push(this.grads.subarray(offset, offset + numel));
      offset += numel;
    }
    this.params = Object.freeze(params);
    this.#gradViews = Object.freeze(gradViews);
    lockFields(this, 'ParameterStore', {
      data: 'copy values in with store.data.set(values)',
      grads: 'write into it, or copy values in with store.grads.set(values)',
      params: 'a store holds the parameters it was built with',
    });
  }

  /** The parameter of that name, or undefined. */
  get(name: string): Parameter | undefined {
    return this.#byName.get(name);
  }

  /** The store's grad view for `param` (the same array every time).
   * @throws TypeError `ERR_PARAM_TYPE` if `param` is not one of this store's parameters. */
  gradOf(param: Parameter): Float32Array {
    const i = this.params.indexOf(param);
    if (i < 0) throw typeError('ERR_PARAM_TYPE', `ParameterStore.gradOf(): ${param?.label ?? describe(param)} is not in this store`);
    return this.#gradViews[i]!;
  }

  /**
   * Sets every trainable parameter's grad to its view of `grads` (after zeroGrad(), say), and by
   * default zero-fills those views first. The views are the same arrays every time, so without
   * the fill a backward that accumulates (`grad[i] += …`) would see last step's gradient added
   * in: PyTorch's zero_grad() followed by a backward starts every grad from zero, and so does
   * this. Pass `{ zero: false }` when the backward overwrites every element. The optimizer's
   * cached step plan still holds either way. Frozen parameters' views are neither attached nor
   * zeroed.
   *
   * Attaching is what precedes writing new gradients into `grads`, so it is refused while a
   * running step (a stepAsync() in any worker) reads them.
   * @throws TypeError (code ERR_OPTION) for an unknown option or a non-boolean `zero`;
   * SimdAdamError ERR_BUSY while a running step reads these grads, with nothing attached or zeroed.
   */
  attachGrads(options?: AttachGradsOptions): void {
    const where = 'ParameterStore.attachGrads()';
    const opts = checkOptionsObject(options, where);
    checkKeys(opts, ['zero'], where);
    const zero = opts.zero === undefined ? true : checkBoolean(opts.zero, 'zero', where);
    whileClaimed([[this.grads, true]], where, () => this.#attach(zero));
  }

  #attach(zero: boolean): void {
    const params = this.params, views = this.#gradViews;
    // Consecutive trainable views are contiguous in `grads`: one fill per run of them.
    let runStart = -1, runEnd = 0;
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (!p.requiresGrad) continue;
      const view = views[i]!;
      p.grad = view;
      if (!zero) continue;
      const start = view.byteOffset, end = start + view.byteLength;
      if (runStart < 0 || start !== runEnd) {
        if (runStart >= 0) this.#zeroBytes(runStart, runEnd);
        runStart = start;
      }
      runEnd = end;
    }
    if (zero && runStart >= 0) this.#zeroBytes(runStart, runEnd);
  }

  #zeroBytes(start: number, end: number): void {
    const first = (start - this.grads.byteOffset) / Float32Array.BYTES_PER_ELEMENT;
    this.grads.fill(0, first, first + (end - start) / Float32Array.BYTES_PER_ELEMENT);
  }
}

refusePytorchSpellings(ParameterStore);
