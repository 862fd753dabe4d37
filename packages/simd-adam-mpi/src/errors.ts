/** Coded TypeErrors and RangeErrors as the core throws them, and values named for messages. */
import type { SimdAdamError } from 'simd-adam';

type Code = SimdAdamError['code'];

/** `error` with a read-only `code`, as the core's TypeErrors and RangeErrors carry. */
export function coded<E extends Error>(error: E, code: Code): E & { readonly code: Code } {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: false, configurable: true });
  return error as E & { readonly code: Code };
}

/** A value as error messages name it: `a Float64Array of length 3`, `the string "x"`, `null`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === 'function') return 'a function';
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}
