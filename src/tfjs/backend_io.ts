/**
 * How values move between a tfjs tensor and the Float32Arrays simd-adam steps, per backend.
 *
 *   cpu   the backend's own Float32Array: read without a copy, written in place.
 *   wasm  a Float32Array view of the wasm heap at the tensor's offset: read and written in place.
 *   copy  anything else (tfjs-node's `tensorflow`, webgl, ...): dataSync() in, a new tensor out.
 *
 * The backend is recognised by the name it is registered under, and by the internals we use
 * being present; without them the tensor takes the copy path. Nothing here imports a backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { tfCore } from './load_core.js';

export type Io = 'cpu' | 'wasm' | 'copy';

type DataId = object;

/** What we read of tfjs-backend-cpu's MathBackendCPU. */
interface CpuBackend {
  data: { has(dataId: DataId): boolean; get(dataId: DataId): { values?: unknown } };
  refCount(dataId: DataId): number;
}

/** What we read of tfjs-backend-wasm's BackendWasm. */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array; tfjs: { registerTensor(id: number, size: number, memoryOffset: number): void; disposeData(id: number): void } };
  dataIdMap: { has(dataId: DataId): boolean; get(dataId: DataId): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  refCount(dataId: DataId): number;
}

/** A tensor's owning backend and how we reach its values. */
export interface Owner {
  backend: tf.KernelBackend;
  io: Io;
}

const ioOf = new WeakMap<tf.KernelBackend, Io>();

function classify(backend: tf.KernelBackend): Io {
  const registry = tfCore.engine().registry;
  const name = Object.keys(registry).find((key) => registry[key] === backend);
  const b = backend as unknown as Partial<CpuBackend & WasmBackend>;
  if (name === 'cpu' && typeof b.data?.get === 'function' && typeof b.refCount === 'function') return 'cpu';
  if (
    name === 'wasm' &&
    b.wasm?.HEAPU8 instanceof Uint8Array &&
    typeof b.wasm.tfjs?.registerTensor === 'function' &&
    typeof b.wasm.tfjs.disposeData === 'function' &&
    typeof b.dataIdMap?.get === 'function' &&
    typeof b.dataIdNextNumber === 'number'
  ) {
    return 'wasm';
  }
  return 'copy';
}

/** The backend holding `t`'s data (tfjs moves data lazily, so not always the active one). */
export function ownerOf(t: tf.Tensor): Owner {
  const backend = tfCore.engine().state.tensorInfo.get(t.dataId)?.backend ?? tfCore.backend();
  let io = ioOf.get(backend);
  if (io === undefined) {
    io = classify(backend);
    ioOf.set(backend, io);
  }
  return { backend, io };
}

/** How many tensors share `t`'s data: 1 means a write in place is seen by `t` alone. */
export function refCount(t: tf.Tensor, owner: Owner): number {
  return (owner.backend as unknown as CpuBackend).refCount(t.dataId);
}

/** `t`'s values without a copy (cpu: the backend's array; wasm: a heap view, valid until the
 * heap grows), or null on the copy path or when the backend holds something else. */
export function viewOf(t: tf.Tensor, owner: Owner): Float32Array | null {
  const size = t.size;
  if (owner.io === 'cpu') {
    const data = (owner.backend as unknown as CpuBackend).data;
    if (!data.has(t.dataId)) return null;
    const values = data.get(t.dataId).values;
    return values instanceof Float32Array && values.length === size ? values : null;
  }
  if (owner.io === 'wasm') {
    const b = owner.backend as unknown as WasmBackend;
    if (!b.dataIdMap.has(t.dataId)) return null;
    // Re-taken every time: growing the heap replaces HEAPU8's buffer and detaches older views.
    return new Float32Array(b.wasm.HEAPU8.buffer, b.dataIdMap.get(t.dataId).memoryOffset, size);
  }
  return null;
}

/** Whether `view` still is `t`'s storage: same heap buffer and offset (wasm), same array (cpu). */
export function stillViews(view: Float32Array, t: tf.Tensor, owner: Owner): boolean {
  if (owner.io === 'cpu') {
    const data = (owner.backend as unknown as CpuBackend).data;
    return data.has(t.dataId) && data.get(t.dataId).values === view;
  }
  if (owner.io === 'wasm') {
    const b = owner.backend as unknown as WasmBackend;
    return b.dataIdMap.has(t.dataId) && view.buffer === b.wasm.HEAPU8.buffer && view.byteOffset === b.dataIdMap.get(t.dataId).memoryOffset;
  }
  return false;
}

/** Tells the backend that `t`'s values were written in place. The wasm backend caches XNNPACK
 * operators (matmul, conv) with their weights packed, keyed by the tensor's id in its C++ half,
 * and drops them when that id is disposed: so the memory is registered again under a new id,
 * as if tfjs had made a new tensor there. The cpu backend caches nothing. */
export function written(t: tf.Tensor, owner: Owner): void {
  if (owner.io !== 'wasm') return;
  const b = owner.backend as unknown as WasmBackend;
  const entry = b.dataIdMap.get(t.dataId);
  b.wasm.tfjs.disposeData(entry.id);
  const id = b.dataIdNextNumber++;
  b.wasm.tfjs.registerTensor(id, t.size, entry.memoryOffset);
  entry.id = id;
}

/** Gives `v` data of its own, a copy of `values`, on `owner`'s backend: no other tensor, and
 * no array anyone else holds, shares it. Returns the variable's new array on cpu. */
export function replaceData(v: tf.Variable, values: Float32Array, owner: Owner): void {
  const fresh = tfCore.engine().makeTensor(values, v.shape, 'float32', owner.backend);
  // assign() shares fresh's data (its refCount goes to 2); disposing fresh leaves it to v alone.
  v.assign(fresh);
  fresh.dispose();
}

/** A gradient's values to read: without a copy where the backend allows, else dataSync(). */
export function readGrad(grad: tf.Tensor): Float32Array {
  const view = viewOf(grad, ownerOf(grad));
  return view ?? (grad.dataSync() as Float32Array);
}
