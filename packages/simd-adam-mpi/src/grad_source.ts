/**
 * The buffer a step reduce-scatters: the grads as one flat array laid out as the parameters are.
 * Grads attached by ParameterStore.attachGrads() already are one (no copy); grads assigned one
 * by one elsewhere are copied into a scratch buffer of the flat size, allocated on first need, by
 * the reduce-scatter's worker thread (the `fill`), not on the event loop.
 */
import type { FlatParam } from './layout.js';

export class GradSource {
  readonly #flat: Float32Array;
  readonly #storeGrads: Float32Array | undefined;
  #scratch: Float32Array | undefined;

  constructor(flat: Float32Array, storeGrads: Float32Array | undefined) {
    this.#flat = flat;
    this.#storeGrads = storeGrads;
  }

  /** A flat array whose [offset, offset + numel) holds (once `fill` is copied in) each active
   * parameter's grad. Elements of the other parameters are unspecified: their reduced values are
   * never used. */
  resolve(active: readonly FlatParam[]): { send: Float32Array; fill?: { arrays: Float32Array[]; offsets: Int32Array } } {
    const inPlace = this.#inPlace(active);
    if (inPlace) return { send: inPlace };
    this.#scratch ??= new Float32Array(this.#flat.length);
    return { send: this.#scratch, fill: { arrays: active.map(({ param }) => param.grad!), offsets: Int32Array.from(active, ({ offset }) => offset) } };
  }

  #inPlace(active: readonly FlatParam[]): Float32Array | undefined {
    const first = active[0]!;
    const buffer = first.param.grad!.buffer;
    const base = first.param.grad!.byteOffset - first.offset * Float32Array.BYTES_PER_ELEMENT;
    const bytes = this.#flat.length * Float32Array.BYTES_PER_ELEMENT;
    if (base < 0 || base + bytes > buffer.byteLength) return undefined;
    // The reduce-scatter must not read the parameters the all-gather writes.
    if (buffer === this.#flat.buffer && base < this.#flat.byteOffset + bytes && this.#flat.byteOffset < base + bytes) return undefined;
    for (const { param, offset } of active) {
      const g = param.grad!;
      if (g.buffer !== buffer || g.byteOffset - offset * Float32Array.BYTES_PER_ELEMENT !== base) return undefined;
    }
    const grads = this.#storeGrads;
    if (grads && grads.buffer === buffer && grads.byteOffset === base) return grads;
    return new Float32Array(buffer, base, this.#flat.length);
  }
}
