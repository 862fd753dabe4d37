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
import { checkKeys, checkOptionsObject, describe } from '../common/validate.js';

/** One parameter of a store. */
export interface ParameterSpec {
  /** Defaults to the parameter's index in the store, as a string. */
  name?: string;
  shape: readonly number[];
  requiresGrad?: boolean;
  /** Initial values (copied); zeros if absent. */
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

export class ParameterStore {
  /** Every parameter's values, in order: `params[i].data` is a view of it. */
  readonly data: Float32Array;
  /** Every parameter's gradient, in order, in a buffer of its own. */
  readonly grads: Float32Array;
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
  }

  /** The parameter of that name, or undefined. */
  get(name: string): Parameter | undefined {
    return this.#byName.get(name);
  }

  /** The store's grad view for `param` (the same array every time). */
  gradOf(param: Parameter): Float32Array {
    const i = this.params.indexOf(param);
    if (i < 0) throw typeError('ERR_PARAM_TYPE', `ParameterStore.gradOf(): ${param?.label ?? describe(param)} is not in this store`);
    return this.#gradViews[i]!;
  }

  /** Sets every trainable parameter's grad to its view of `grads` (after zeroGrad(), say). The
   * views are the same arrays each time, so the optimizer's cached plan still holds.
   *
   * Attaching is what precedes writing new gradients into `grads`, so it is refused while a
   * running step (a stepAsync() in any worker) reads them.
   * @throws SimdAdamError ERR_BUSY then, with no grad assigned. */
  attachGrads(): void {
    whileClaimed([[this.grads, true]], 'ParameterStore.attachGrads()', () => {
      const params = this.params, views = this.#gradViews;
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        if (p.requiresGrad) p.grad = views[i]!;
      }
    });
  }
}
