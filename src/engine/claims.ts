/**
 * The process-wide record of the memory that running steps read and write, kept natively
 * (native/runtime/claims.h) because the thread pool and SharedArrayBuffers span every worker.
 * Native steps and reductions claim their memory themselves; this module is for what runs in
 * TypeScript (the js backend, zeroGrad's fill, attachGrads), for asking whether memory is in use
 * (Optimizer.busy), and for turning the addon's refusal into a SimdAdamError naming the caller.
 */
import { SimdAdamError } from '../common/errors.js';
import { isResizable } from '../common/validate.js';
import { addon, type Buffers } from '../native/addon.js';
import type { Parameter } from '../nn/parameter.js';
import type { Moment } from './lowbit_state.js';
import { bufferHandle } from './segment_table.js';

/** A view (of any element type) and whether the operation writes it (else it only reads it). */
export type Access = readonly [view: ArrayBufferView, write: boolean];

/** The views of a moment in any format: a typed array, or an 8-bit moment's codes and scales. */
export function momentAccess(moment: Moment | null | undefined, write: boolean): Access[] {
  if (!moment) return [];
  return ArrayBuffer.isView(moment) ? [[moment, write]] : [[moment.codes, write], [moment.scale, write]];
}

/** Views as the addon's (buffers, table): one (buffer index, element offset, length) row each. */
export function encodeViews(views: readonly Float32Array[]): { buffers: Buffers; table: Float64Array } {
  const stride = addon.reduceLayout.VIEW_STRIDE;
  const table = new Float64Array(views.length * stride);
  const buffers: Array<ArrayBuffer | Uint8Array> = [];
  const indexOf = new Map<ArrayBufferLike, number>();
  views.forEach((view, k) => {
    let index = indexOf.get(view.buffer);
    if (index === undefined) {
      index = buffers.length;
      indexOf.set(view.buffer, index);
      buffers.push(bufferHandle(view.buffer));
    }
    table[k * stride] = index;
    table[k * stride + 1] = view.byteOffset / Float32Array.BYTES_PER_ELEMENT;
    table[k * stride + 2] = view.length;
  });
  return { buffers, table };
}

/** Empty (or detached) views hold no memory; a resizable buffer never reaches a native step
 * (every entry point refuses it), so it cannot be in use either, and the addon would refuse it. */
function encodeAccess(access: readonly Access[]): { buffers: Buffers; table: Float64Array; writes: Uint8Array } {
  const held = access.filter(([view]) => view.byteLength > 0 && !isResizable(view));
  // Rows of (buffer index, byte offset, byte length): the addon's claim tables.
  const table = new Float64Array(held.length * 3);
  const buffers: Array<ArrayBuffer | Uint8Array> = [];
  const indexOf = new Map<ArrayBufferLike, number>();
  held.forEach(([view], k) => {
    let index = indexOf.get(view.buffer);
    if (index === undefined) {
      index = buffers.length;
      indexOf.set(view.buffer, index);
      buffers.push(bufferHandle(view.buffer));
    }
    table.set([index, view.byteOffset, view.byteLength], k * 3);
  });
  return { buffers, table, writes: Uint8Array.from(held, ([, write]) => (write ? 1 : 0)) };
}

/** The error every refused operation throws: nothing was changed. */
export function busyError(where: string): SimdAdamError {
  return new SimdAdamError(
    'ERR_BUSY',
    `${where}: memory it would read or write is in use by a running step (a stepAsync() over the same parameters, ` +
      'grads or state, from any optimizer or worker); nothing was changed. Await optimizer.whenIdle() first',
  );
}

/** Runs `native` (a call into the addon), rewriting the addon's ERR_BUSY refusal as busyError(where). */
export function callNative<T>(where: string, native: () => T): T {
  try {
    return native();
  } catch (error) {
    if (isNativeBusy(error)) throw busyError(where);
    throw error;
  }
}

/** The addon's refusal: an Error (not yet a SimdAdamError) with code ERR_BUSY. */
export function isNativeBusy(error: unknown): boolean {
  return error instanceof Error && !(error instanceof SimdAdamError) && (error as { code?: unknown }).code === 'ERR_BUSY';
}

/** Claims `access` for as long as the returned release function is not called; throws
 * busyError(where) if a running step holds some of it. */
export function claim(access: readonly Access[], where: string): () => void {
  const { buffers, table, writes } = encodeAccess(access);
  if (writes.length === 0) return () => {};
  const id = addon.claim(buffers, table, writes);
  if (id === 0) throw busyError(where);
  let released = false;
  return () => {
    if (!released) addon.release(id);
    released = true;
  };
}

/** Runs `body` with `access` claimed (see claim()). */
export function whileClaimed<T>(access: readonly Access[], where: string, body: () => T): T {
  const release = claim(access, where);
  try {
    return body();
  } finally {
    release();
  }
}

/** True if claiming `access` now would be refused. */
export function inUse(access: readonly Access[]): boolean {
  const { buffers, table, writes } = encodeAccess(access);
  return writes.length > 0 && addon.inUse(buffers, table, writes);
}

/** Writes to the grads of `params` that are trainable and set (zeroGrad's fill). */
export function gradWrites(params: readonly Parameter[]): Access[] {
  return params.filter((p) => p.requiresGrad && p.grad instanceof Float32Array).map((p) => [p.grad!, true] as const);
}

/** What a step over `params` touches: their data (written) and grads (read). */
export function paramAccess(params: readonly Parameter[]): Access[] {
  const out: Access[] = [];
  for (const p of params) {
    out.push([p.data, true]);
    if (p.grad instanceof Float32Array) out.push([p.grad, false]);
  }
  return out;
}

/** What a step over these segments touches: the grads read, the parameters and moments written. */
export function stepAccess(segments: ReadonlyArray<{ param: Float32Array; grad: Float32Array; expAvg: Moment; expAvgSq: Moment; maxExpAvgSq: Moment | null }>): Access[] {
  return segments.flatMap((s): Access[] => [[s.param, true], [s.grad, false], ...momentAccess(s.expAvg, true), ...momentAccess(s.expAvgSq, true), ...momentAccess(s.maxExpAvgSq, true)]);
}
