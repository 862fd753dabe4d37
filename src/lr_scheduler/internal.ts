/** Helpers shared by the schedulers: option readers and a validating state-dict reader. Not part
 * of the public API. */
import { rangeError, typeError } from '../common/errors.js';
import { checkNumber, describe, type NumberRule } from '../common/validate.js';

/** `lastEpoch` as PyTorch takes it: -1 starts a fresh schedule, anything else resumes one. */
export function readLastEpoch(value: unknown, where: string): number {
  return value === undefined ? -1 : checkNumber(value, 'lastEpoch', where, { integer: true, min: -1 });
}

/** An option that is either one number for every group or one per group, as PyTorch's
 * `_format_param` accepts. */
export function perGroup(value: unknown, name: string, where: string, groups: number, rule: NumberRule): number[] {
  if (Array.isArray(value)) {
    if (value.length !== groups) {
      throw rangeError(
        'ERR_OPTION',
        `${where}: ${name} must have one value per param group (${groups}), got an Array of length ${value.length}`,
      );
    }
    return value.map((v: unknown, i) => checkNumber(v, `${name}[${i}]`, where, rule));
  }
  if (typeof value !== 'number') {
    throw typeError('ERR_OPTION', `${where}: ${name} must be a number or an Array of ${groups} numbers, got ${describe(value)}`);
  }
  return new Array<number>(groups).fill(checkNumber(value, name, where, rule));
}

/** One of a fixed set of strings. */
export function checkChoice<T extends string>(value: unknown, name: string, where: string, choices: readonly T[]): T {
  if (typeof value !== 'string') {
    throw typeError('ERR_OPTION', `${where}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(value)}`);
  }
  if (!(choices as readonly string[]).includes(value)) {
    throw rangeError('ERR_OPTION', `${where}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${value}'`);
  }
  return value as T;
}

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

  number(key: string, rule: NumberRule = {}): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      return checkNumber(value, key, this.where, rule);
    } catch (error) {
      throw asStateDictError(error);
    }
  }

  /** A number array with one entry per param group (from `min` to `length` entries, if `min`
   * is given). */
  numbers(key: string, length: number, min = length): number[] | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length > length || value.length < min) {
      const count = min === length ? `${length}` : `${min} to ${length}`;
      throw typeError('ERR_STATE_DICT', `${this.where}: ${key} must be an Array of ${count} numbers, got ${describe(value)}`);
    }
    return value.map((v: unknown, i) => {
      try {
        return checkNumber(v, `${key}[${i}]`, this.where);
      } catch (error) {
        throw asStateDictError(error);
      }
    });
  }

  boolean(key: string): boolean | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      throw typeError('ERR_STATE_DICT', `${this.where}: ${key} must be a boolean, got ${describe(value)}`);
    }
    return value;
  }

  choice<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    try {
      return checkChoice(value, key, this.where, choices);
    } catch (error) {
      throw asStateDictError(error);
    }
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
