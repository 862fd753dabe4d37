/** Scheduler hyperparameters, each described once: how a value is checked, its default, and the
 * key PyTorch's state dict saves it under. Constructors read their options through these
 * descriptions and loadStateDict() checks saved values with the same rules, so an option and a
 * loaded state dict never disagree on what is valid. Not part of the public API. */
import { rangeError, typeError } from '../common/errors.js';
import { checkBoolean, checkKeys, checkNumber, checkOptionsObject, describe, type NumberRule } from '../common/validate.js';
import type { StateReader } from './internal.js';

/** Checks one value and returns what the scheduler keeps; throws a TypeError or RangeError (code
 * ERR_OPTION) that names `name`, what was expected and what came. `groups` is the optimizer's
 * number of param groups. */
export type Check<T> = (value: unknown, name: string, where: string, groups: number) => T;

/** How a hyperparameter is given and saved, besides its check. */
export interface HyperparameterUse {
  /** What an absent option stands for, checked like a given value. Without one the option is
   * required: the check sees `undefined` and says what it expected. */
  default?: unknown;
  /** PyTorch's state dict key for the value, which the scheduler keeps in the property named
   * like the option. Without one the value is not saved. */
  saveAs?: string;
}

export interface Hyperparameter<T> extends HyperparameterUse {
  readonly check: Check<T>;
  /** Saved, but set by the schedule itself: not accepted as an option (see {@link savedOnly}). */
  readonly savedOnly?: true;
}

export type Hyperparameters = Readonly<Record<string, Hyperparameter<unknown>>>;

/** The checked values of `H`, by name. */
export type HyperparameterValues<H extends Hyperparameters> = {
  -readonly [K in keyof H]: H[K] extends Hyperparameter<infer T> ? T : never;
};

/** The checked values of `H`'s options: all but the saved-only ones. */
export type OptionValues<H extends Hyperparameters> = {
  -readonly [K in keyof H as H[K] extends { savedOnly: true } ? never : K]: H[K] extends Hyperparameter<infer T> ? T : never;
};

/** A finite number within `rule`. */
export function numeric(rule: NumberRule = {}, use: HyperparameterUse = {}): Hyperparameter<number> {
  return { ...use, check: (value, name, where) => checkNumber(value, name, where, rule) };
}

/** A number within `rule`, or absent (undefined) where the scheduler has another way to it. */
export function optionalNumeric(rule: NumberRule, use: HyperparameterUse = {}): Hyperparameter<number | undefined> {
  return { ...use, check: (value, name, where) => (value === undefined ? undefined : checkNumber(value, name, where, rule)) };
}

export function flag(use: HyperparameterUse): Hyperparameter<boolean> {
  return { ...use, check: (value, name, where) => checkBoolean(value, name, where) };
}

/** One of a fixed set of strings. */
export function choice<T extends string>(choices: readonly T[], use: HyperparameterUse): Hyperparameter<T> {
  return {
    ...use,
    check: (value, name, where) => {
      const expected = choices.map((c) => `'${c}'`).join(', ');
      if (typeof value !== 'string') throw typeError('ERR_OPTION', `${where}: ${name} must be one of ${expected}, got ${describe(value)}`);
      if (!(choices as readonly string[]).includes(value)) {
        throw rangeError('ERR_OPTION', `${where}: ${name} must be one of ${expected}, got '${value}'`);
      }
      return value as T;
    },
  };
}

/** One number for every group or one per group, as PyTorch's `_format_param` accepts; the value
 * kept is always one per group. */
export function perGroup(rule: NumberRule, use: HyperparameterUse = {}): Hyperparameter<number[]> {
  return {
    ...use,
    check: (value, name, where, groups) => {
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
    },
  };
}

/** A hyperparameter with a check of its own (lists, functions, schedulers). */
export function custom<T>(check: Check<T>, use: HyperparameterUse = {}): Hyperparameter<T> {
  return { ...use, check };
}

/** `h` as progress the schedule keeps (CosineAnnealingWarmRestarts' `T_cur`): saved and
 * loaded, never an option. */
export function savedOnly<T>(h: Hyperparameter<T>): Hyperparameter<T> & { savedOnly: true } {
  return { ...h, savedOnly: true };
}

/** `lastEpoch` as PyTorch takes it: -1 starts a fresh schedule, anything else resumes one. */
export const LAST_EPOCH = numeric({ integer: true, min: -1 }, { default: -1 });

/**
 * Reads an options object (or undefined, meaning `{}`) against `hyperparameters`: refuses an
 * unknown key (suggesting the camelCase name for PyTorch's snake_case one), then checks each
 * option in the order listed, an absent one taking its default.
 * @throws TypeError / RangeError `ERR_OPTION` naming the option, what was expected and what came.
 */
export function readOptions<H extends Hyperparameters>(
  options: unknown,
  where: string,
  hyperparameters: H,
  groups: number,
): OptionValues<H> {
  const o = checkOptionsObject(options, where);
  const names = Object.keys(hyperparameters).filter((name) => !hyperparameters[name]!.savedOnly);
  checkKeys(o, names, where);
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const h = hyperparameters[name]!;
    values[name] = h.check(o[name] === undefined ? h.default : o[name], name, where, groups);
  }
  return values as OptionValues<H>;
}

/** The saved hyperparameters of `scheduler`, under PyTorch's keys. */
export function saveHyperparameters(scheduler: object, hyperparameters: Hyperparameters): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const [name, h] of Object.entries(hyperparameters)) {
    if (h.saveAs !== undefined) state[h.saveAs] = (scheduler as Record<string, unknown>)[name];
  }
  return state;
}

/** Reads the saved hyperparameters from a state dict with the options' own checks (an error
 * names the key and has code ERR_STATE_DICT). Absent keys are absent from the result: they keep
 * the scheduler's current values. */
export function loadHyperparameters<H extends Hyperparameters>(
  reader: StateReader,
  hyperparameters: H,
  groups: number,
): Partial<HyperparameterValues<H>> {
  const values: Record<string, unknown> = {};
  for (const [name, h] of Object.entries(hyperparameters)) {
    const key = h.saveAs;
    if (key === undefined) continue;
    const value = reader.checked(key, (raw) => h.check(raw, key, reader.where, groups));
    if (value !== undefined) values[name] = value;
  }
  return values as Partial<HyperparameterValues<H>>;
}
