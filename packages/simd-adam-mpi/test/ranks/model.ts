/**
 * The model every rank script trains: parameters of awkward sizes (shards cut through them), a
 * frozen one, one without elements, and grads that are small integers times 2^-6, so that their
 * sum over ranks is exact in any order and the mean is one correctly rounded division.
 */
import { ParameterStore } from 'simd-adam';

export const SPECS = [
  { name: 'w', shape: [30, 37] },
  { name: 'b', shape: [37] },
  { name: 'frozen', shape: [300], requiresGrad: false },
  { name: 'empty', shape: [0] },
  { name: 'big', shape: [2000] },
  { name: 'sometimes', shape: [517] },
] as const;

export function makeStore(): ParameterStore {
  return new ParameterStore(
    SPECS.map((spec, k) => {
      const numel = spec.shape.reduce((a, b) => a * b, 1);
      return { ...spec, shape: [...spec.shape], init: Array.from({ length: numel }, (_, i) => (((i * 5 + k * 11) % 23) - 11) / 64) };
    }),
  );
}

/** Rank `rank`'s gradient for parameter `k` at step `step`. */
export function gradOf(k: number, numel: number, rank: number, step: number): Float32Array {
  const g = new Float32Array(numel);
  for (let i = 0; i < numel; i++) g[i] = (((i * 7 + rank * 13 + step * 3 + k * 5) % 17) - 8) / 64;
  return g;
}

/** Whether parameter `k` has a grad at `step` (the same on every rank). */
export function hasGrad(k: number, step: number): boolean {
  return SPECS[k]!.name !== 'sometimes' || step % 3 !== 1;
}

/** The mean over `size` ranks, as the sharded optimizer computes it: float32 sum, one division. */
export function meanGrad(k: number, numel: number, size: number, step: number): Float32Array {
  const sum = new Float32Array(numel);
  for (let r = 0; r < size; r++) {
    const g = gradOf(k, numel, r, step);
    for (let i = 0; i < numel; i++) sum[i] = sum[i]! + g[i]!;
  }
  for (let i = 0; i < numel; i++) sum[i] = sum[i]! / size;
  return sum;
}

/** Sets every rank-local grad of `store` for `step` (null where the schedule says so). */
export function setGrads(store: ParameterStore, rank: number, step: number, size?: number): void {
  store.attachGrads({ zero: false });
  store.params.forEach((p, k) => {
    if (!p.requiresGrad) return;
    if (!hasGrad(k, step)) p.grad = null;
    else p.grad!.set(size === undefined ? gradOf(k, p.numel, rank, step) : meanGrad(k, p.numel, size, step));
  });
}

export function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.constructor === b.constructor && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** Two state dict moments hold the same bits in the same format: float32 values, bfloat16 bits,
 * or 8-bit codes, scales and map. */
export function sameMoment(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && sameBits(a, b);
  const [x, y] = [a as Record<string, ArrayBufferView>, b as Record<string, ArrayBufferView>];
  return ['codes', 'scale', 'qmap'].every((k) => x[k] !== undefined && y[k] !== undefined && sameBits(x[k]!, y[k]!));
}

/** The optimizer options the state-format variants of the rank scripts use: STATE_DTYPE
 * (float32 by default) with min8bitSize 300, so that 'w' and 'big' get 8-bit state cut across
 * ranks on block boundaries and the smaller parameters stay float32. */
export function stateOptions(): { stateDtype: 'float32' | 'bfloat16' | '8bit'; min8bitSize: number } {
  return { stateDtype: (process.env.STATE_DTYPE ?? 'float32') as 'float32' | 'bfloat16' | '8bit', min8bitSize: 300 };
}
