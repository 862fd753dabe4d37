/** Helpers shared by the schedulers: a validating state-dict reader and Python's bisect. Not
 * part of the public API. */
import { rangeError, typeError } from '../common/errors.js';
import { checkBoolean, checkNumber, describe, type NumberRule } from '../common/validate.js';

/** Python's `bisect.bisect_right` over a sorted array. */
export function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Re-throws a validation error from the option checkers under the state-dict code, so a bad
 * checkpoint is told apart from a bad constructor call. */
function asStateDictError(error: unknown): unknown {
  if (error instanceof RangeError) return rangeError('ERR_STATE_DICT', error.message);
  if (error instanceof TypeError) return typeError('ERR_STATE_DICT', error.message);
  return error;
}

/**
 * Reads a scheduler state dict key by key. A key that is absent keeps the scheduler's current
 * value, as PyTorch's `__dict__.update` does; a key nobody asked for is an error, reported by
 * `finish()`. Callers validate everything first and assign afterwards, so a bad state dict
 * changes nothing.
 */
export class StateReader {
  readonly where: string;
  private readonly source: Record<string, unknown>;
  private readonly known = new Set<string>();

  constructor(value: unknown, where: string) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw typeError('ERR_STATE_DICT', `${where}: expected a state dict object, got ${describe(value)}`);
    }
    this.source = value as Record<string, unknown>;
    this.where = where;
  }

  /** The raw value of `key` (undefined if absent), marking the key as understood. */
  raw(key: string): unknown {
    this.known.add(key);
    return Object.prototype.hasOwnProperty.call(this.source, key) ? this.source[key] : undefined;
  }

  /** Keys PyTorch writes that carry nothing we use (`verbose`, bookkeeping flags). */
  ignore(...keys: string[]): void {
    for (const key of keys) this.known.add(key);
  }

  /** The value of `key` passed through `check` (undefined if absent); the check's TypeError or
   * RangeError comes out with code ERR_STATE_DICT. */
  checked<T>(key: string, check: (value: unknown) => T): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      return check(value);
    } catch (error) {
      throw asStateDictError(error);
    }
  }

  number(key: string, rule: NumberRule = {}): number | undefined {
    return this.checked(key, (value) => checkNumber(value, key, this.where, rule));
  }

  /** A number array with one entry per param group (from `min` to `length` entries, if `min`
   * is given). */
  numbers(key: string, length: number, min = length): number[] | undefined {
    return this.checked(key, (value) => {
      if (!Array.isArray(value) || value.length > length || value.length < min) {
        const count = min === length ? `${length}` : `${min} to ${length}`;
        throw typeError('ERR_STATE_DICT', `${this.where}: ${key} must be an Array of ${count} numbers, got ${describe(value)}`);
      }
      return value.map((v: unknown, i) => checkNumber(v, `${key}[${i}]`, this.where));
    });
  }

  boolean(key: string): boolean | undefined {
    return this.checked(key, (value) => checkBoolean(value, key, this.where));
  }

  /** Fails on any key no reader asked for: a state dict from another scheduler class should
   * not load silently. */
  finish(): void {
    for (const key of Object.keys(this.source)) {
      if (!this.known.has(key)) {
        throw typeError(
          'ERR_STATE_DICT',
          `${this.where}: unknown state dict key '${key}'; expected some of ${[...this.known].join(', ')}`,
        );
      }
    }
  }
}
