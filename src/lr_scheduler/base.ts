import { refusePytorchSpellings } from '../common/members.js';
import { rangeError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { resetOptimizerSteps, warnIfSchedulerFirst } from '../common/optimizer_steps.js';
import { StateReader } from './internal.js';
import {
  LAST_EPOCH,
  loadHyperparameters,
  readOptions,
  saveHyperparameters,
  type Hyperparameters,
  type OptionValues,
} from './hyperparameters.js';

/**
 * A param group as the schedulers see it: a plain mutable object. Schedulers write `lr`, replace
 * `betas` with a new array when they cycle momentum, and keep their own bookkeeping in extra
 * camelCase keys (`initialLr`; OneCycleLR adds `maxLr`, `minLr`, `maxMomentum`, `baseMomentum`),
 * which the optimizer's state dict writes out under PyTorch's snake_case names.
 *
 * The type has no index signature on purpose: an optimizer whose groups are declared as an
 * interface must still be assignable to {@link SchedulableOptimizer}.
 */
export interface SchedulerParamGroup {
  /** The group's learning rate, which the scheduler writes. */
  lr: number;
  /** `[beta1, beta2]`; OneCycleLR replaces it to cycle `beta1`. */
  betas: readonly [number, number];
}

/** What a scheduler needs from an optimizer: its param groups. `Adam` and `AdamW` qualify. */
export interface SchedulableOptimizer {
  readonly paramGroups: readonly SchedulerParamGroup[];
}

/** Options every {@link LRScheduler} subclass accepts. */
export interface LRSchedulerOptions {
  /**
   * The index of the last epoch: an integer ≥ -1, default -1 to start the schedule. Any other
   * value resumes: every param group must then already hold `initialLr`, as PyTorch requires
   * (else RangeError `ERR_OPTION`).
   */
  lastEpoch?: number;
}

/** A scheduler's state dict: PyTorch's keys (`last_epoch`, `base_lrs`, `_step_count`,
 * `_last_lr`, ...) with plain JSON values. Callables are never included. */
export type LRSchedulerStateDict = Record<string, unknown>;

/** The extra keys schedulers keep on a group, read and written untyped.
 * @internal */
export function groupRecord(group: SchedulerParamGroup): Record<string, unknown> {
  return group as unknown as Record<string, unknown>;
}

function checkOptimizer(optimizer: unknown, where: string): asserts optimizer is SchedulableOptimizer {
  const groups = (optimizer as { paramGroups?: unknown } | null | undefined)?.paramGroups;
  if (!Array.isArray(groups) || groups.length === 0) {
    throw typeError(
      'ERR_OPTION',
      `${where}: optimizer must have a non-empty paramGroups array, got ${describe(optimizer)}` +
        (optimizer !== null && typeof optimizer === 'object' ? ` whose paramGroups is ${describe(groups)}` : ''),
    );
  }
  groups.forEach((group: unknown, i) => {
    const lr = (group as { lr?: unknown } | null)?.lr;
    if (typeof lr !== 'number') {
      throw typeError('ERR_OPTION', `${where}: optimizer.paramGroups[${i}].lr must be a number, got ${describe(lr)}`);
    }
  });
}

/**
 * The base class of the epoch-driven schedulers, PyTorch's `_LRScheduler` (torch 1.13).
 *
 * Construction records each group's `initialLr` (the first scheduler on an optimizer sets it
 * from `lr`; later ones keep it), takes `baseLrs` from it and performs the initial step, which
 * sets `lr` for epoch 0. Call `step()` once per epoch (or batch) after `optimizer.step()`.
 *
 * Most subclasses are chainable: they compute the next lr from the group's current `lr`, so
 * changes made to `lr` from outside carry through, exactly as in PyTorch.
 *
 * Every constructor takes the optimizer and an options object (PyTorch's keyword arguments in
 * camelCase, with PyTorch's defaults).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export abstract class LRScheduler {
  readonly optimizer: SchedulableOptimizer;
  /** Each group's `initialLr` when the scheduler was built. */
  baseLrs: number[] = [];
  /** The epoch the current lrs belong to: 0 right after construction. */
  lastEpoch = -1;
  /** PyTorch's `_step_count`: calls to `step()`, the initial one included. */
  protected stepCount = 0;
  protected lastLr: number[] = [];
  /** The class name, for error messages. */
  protected readonly where: string;

  /** What the subclass gave {@link readOptions}: stateDict() saves these, loadStateDict() checks
   * and restores them. */
  #hyperparameters: Hyperparameters = {};

  /** Subclasses validate their options ({@link readOptions}), store them, then call
   * {@link attach}: the initial step needs their fields, which JavaScript only lets them set
   * after `super()` returns. */
  protected constructor(optimizer: SchedulableOptimizer, where: string) {
    checkOptimizer(optimizer, where);
    this.optimizer = optimizer;
    this.where = where;
    this.#before = optimizer.paramGroups.map((group) => ({ ...groupRecord(group) }));
  }

  /** Every group's keys as the constructor found them: a constructor that fails (in attach, or
   * in a subclass after it wrote `initialLr` into some groups) puts them back, so a failed
   * construction changes nothing. */
  #before: Array<Record<string, unknown>> | undefined;

  #restoreGroups(): void {
    this.optimizer.paramGroups.forEach((group, i) => {
      const record = groupRecord(group), before = this.#before![i]!;
      for (const key of Object.keys(record)) if (key !== 'params' && !(key in before)) delete record[key];
      for (const [key, value] of Object.entries(before)) if (key !== 'params' && record[key] !== value) record[key] = value;
    });
  }

  /** Checks `options` against the subclass's `hyperparameters` and `lastEpoch`, and remembers
   * which of them the state dict saves.
   * @throws TypeError / RangeError `ERR_OPTION` naming the option. */
  protected readOptions<H extends Hyperparameters>(
    options: unknown,
    hyperparameters: H,
  ): OptionValues<H> & { lastEpoch: number } {
    this.#hyperparameters = hyperparameters;
    const all = { ...hyperparameters, lastEpoch: LAST_EPOCH };
    return readOptions(options, this.where, all, this.optimizer.paramGroups.length) as OptionValues<H> & { lastEpoch: number };
  }

  /** {@link readOptions} for a class that keeps each option in the property of the same name,
   * which stateDict() saves and loadStateDict() restores: stores the values there and returns
   * `lastEpoch`. The `this` type has the compiler check that the class declares each of those
   * properties with the option's type.
   * @throws TypeError / RangeError `ERR_OPTION` naming the option; nothing is stored then. */
  protected configure<H extends Hyperparameters>(this: this & OptionValues<H>, options: unknown, hyperparameters: H): number {
    const { lastEpoch, ...values } = this.readOptions(options, hyperparameters);
    Object.assign(this, values);
    return lastEpoch;
  }

  /** PyTorch's `_LRScheduler.__init__` after the subclass fields: `initialLr`, `baseLrs`,
   * `lastEpoch`, then the initial step. */
  protected attach(lastEpoch: number): void {
    try {
      this.#attach(lastEpoch);
    } catch (error) {
      this.#restoreGroups();
      throw error;
    } finally {
      this.#before = undefined;
    }
  }

  #attach(lastEpoch: number): void {
    const groups = this.optimizer.paramGroups;
    // Checked for every group before any is written.
    groups.forEach((group, i) => {
      const record = groupRecord(group);
      const initialLr = lastEpoch === -1 && record.initialLr === undefined ? group.lr : record.initialLr;
      if (initialLr === undefined) {
        throw rangeError(
          'ERR_OPTION',
          `${this.where}: lastEpoch ${lastEpoch} resumes a schedule, but paramGroups[${i}].initialLr is missing; ` +
            `load the optimizer's state dict first, or pass lastEpoch: -1`,
        );
      }
      if (typeof initialLr !== 'number') {
        throw typeError('ERR_OPTION', `${this.where}: paramGroups[${i}].initialLr must be a number, got ${describe(initialLr)}`);
      }
    });
    for (const group of groups) {
      const record = groupRecord(group);
      if (lastEpoch === -1 && record.initialLr === undefined) record.initialLr = group.lr;
    }
    this.baseLrs = groups.map((group) => groupRecord(group).initialLr as number);
    this.lastEpoch = lastEpoch;
    this._initialStep();
  }

  /** @internal PyTorch's `_initial_step`; SequentialLR re-runs it on its first scheduler. */
  _initialStep(): void {
    resetOptimizerSteps(this.optimizer);
    this.stepCount = 0;
    this.step();
  }

  /**
   * Advances one epoch and writes the new lr into the param groups. A group added to the
   * optimizer after this scheduler was built is treated as PyTorch 1.13 treats it: the chainable
   * schedulers scale its current lr like any other group's, while the lrs computed from
   * `baseLrs` (which has no entry for it) leave it alone.
   *
   * Its first call after construction emits a warning (code SIMD_ADAM_SCHEDULER_ORDER, once per
   * optimizer) if the optimizer has not stepped since, as PyTorch warns: that order skips the
   * schedule's first value.
   * @throws a coded error, with nothing changed, if an lr cannot be computed (see the subclass).
   */
  step(): void {
    if (this.stepCount === 1) warnIfSchedulerFirst(this.optimizer, this.where);
    this.#advance(this.lastEpoch + 1, () => this.computeLr());
  }

  /** @internal PyTorch's `step(epoch)`: jumps to `epoch` using the closed form where the class
   * has one. Only SequentialLR uses it, to restart a scheduler at its milestone. */
  _stepToEpoch(epoch: number): void {
    if (this.stepCount === 1) warnIfSchedulerFirst(this.optimizer, this.where);
    this.#advance(epoch, () => this.closedFormLr() ?? this.computeLr());
  }

  /** Moves to `epoch` and applies `lrs()`; if that throws, the epoch and count move back. */
  #advance(epoch: number, lrs: () => number[]): void {
    const [stepCount, lastEpoch] = [this.stepCount, this.lastEpoch];
    this.stepCount += 1;
    this.lastEpoch = epoch;
    try {
      this.applyLrs(lrs());
    } catch (error) {
      [this.stepCount, this.lastEpoch] = [stepCount, lastEpoch];
      throw error;
    }
  }

  /** The lrs last written by this scheduler, one per param group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** PyTorch's chainable `get_lr()` for `lastEpoch`. */
  protected abstract computeLr(): number[];

  /** Every group's current lr times `factor`: the chainable form of PyTorch's `get_lr()`, as
   * `group['lr'] * factor`. A factor of 1 keeps each lr exactly (x * 1 is x, NaN included). */
  protected scaleLrs(factor: number): number[] {
    return this.optimizer.paramGroups.map((group) => group.lr * factor);
  }

  /** PyTorch's `_get_closed_form_lr()`, or null for classes that have none. */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Writes `lrs` into the groups, pairing them as Python's `zip` does: a group beyond the end of
   * `lrs` keeps its lr. Nothing is written unless every lr is a number. */
  protected applyLrs(lrs: readonly number[]): void {
    const groups = this.optimizer.paramGroups;
    const n = Math.min(groups.length, lrs.length);
    for (let i = 0; i < n; i++) {
      const lr: unknown = lrs[i];
      // A NaN from the schedule itself is kept, as in PyTorch: the next optimizer step refuses it.
      if (typeof lr !== 'number') {
        throw typeError('ERR_OPTION', `${this.where}: the lr computed for paramGroups[${i}] is ${describe(lr)}; no lr was changed`);
      }
    }
    for (let i = 0; i < n; i++) groups[i]!.lr = lrs[i]!;
    this.lastLr = groups.map((group) => group.lr);
  }

  /** The subclass's own state dict entries (hyperparameters and progress), PyTorch's keys:
   * by default the hyperparameters it read with a `saveAs` key. */
  protected ownState(): LRSchedulerStateDict {
    return saveHyperparameters(this, this.#hyperparameters);
  }

  /**
   * A JSON-able snapshot with PyTorch's key names. Restore it with {@link loadStateDict} on a
   * scheduler built the same way, after loading the optimizer's own state dict (the chainable
   * schedulers continue from the groups' current `lr`).
   */
  stateDict(): LRSchedulerStateDict {
    return {
      ...this.ownState(),
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      verbose: false,
      _step_count: this.stepCount,
      _get_lr_called_within_step: false,
      _last_lr: [...this.lastLr],
    };
  }

  /** Loads a state dict from {@link LRScheduler.stateDict | stateDict()}, its JSON round trip, or a JSON dump of PyTorch's
   * `scheduler.state_dict()` for the same class. Everything is validated before anything
   * changes; absent keys keep their current values, as in PyTorch.
   * @throws `ERR_STATE_DICT` (TypeError, RangeError or SimdAdamError) naming the key, for a
   *   value of the wrong type or range, a list of the wrong length or an unknown key. */
  loadStateDict(stateDict: LRSchedulerStateDict): void {
    this._prepareLoad(stateDict, `${this.where}.loadStateDict`)();
  }

  /** @internal Validates `stateDict` and returns the function that applies it, so SequentialLR
   * can validate all its schedulers before changing any. */
  _prepareLoad(stateDict: unknown, where: string): () => void {
    const reader = new StateReader(stateDict, where);
    const commit = this.readState(reader);
    reader.finish();
    return commit;
  }

  /** Reads and validates this class's keys; returns the assignments to make once every key of
   * the state dict has passed. Subclasses extend it and chain the base commit. */
  protected readState(reader: StateReader): () => void {
    const groups = this.optimizer.paramGroups.length;
    // Shorter when groups were added after the scheduler was built: PyTorch keeps it so.
    const baseLrs = reader.numbers('base_lrs', groups, 1);
    const lastEpoch = reader.number('last_epoch', { integer: true, min: -1 });
    const stepCount = reader.number('_step_count', { integer: true, min: 0 });
    const lastLr = reader.numbers('_last_lr', groups);
    const hyperparameters = loadHyperparameters(reader, this.#hyperparameters, groups);
    reader.ignore('verbose', '_get_lr_called_within_step', '_is_initial');
    return () => {
      if (baseLrs !== undefined) this.baseLrs = baseLrs;
      if (lastEpoch !== undefined) this.lastEpoch = lastEpoch;
      if (stepCount !== undefined) this.stepCount = stepCount;
      if (lastLr !== undefined) this.lastLr = lastLr;
      Object.assign(this, hyperparameters);
    };
  }
}

refusePytorchSpellings(LRScheduler, ['baseLrs', 'lastEpoch']);
