import { refusePytorchSpellings } from '../common/members.js';
import { typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import type { LRSchedulerStateDict, SchedulableOptimizer } from './base.js';
import { choice, loadHyperparameters, numeric, perGroup, readOptions, saveHyperparameters } from './hyperparameters.js';
import { StateReader } from './internal.js';

/** Options of {@link ReduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  /** `'min'` (default): the metric should go down, like a loss; `'max'`: it should go up. */
  mode?: 'min' | 'max';
  /** The lr is multiplied by this on a plateau, in [0, 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before reducing: an integer >= 0. Default 10. */
  patience?: number;
  /** How much better a metric must be to count as an improvement, ≥ 0. Default 1e-4. */
  threshold?: number;
  /** `'rel'` (default): better than `best * (1 ∓ threshold)`; `'abs'`: than `best ∓ threshold`. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again: an integer ≥ 0.
   * Default 0. */
  cooldown?: number;
  /** Lower bound on the lr (≥ 0), one for all groups or one per group. Default 0. One number
   * also bounds groups added to the optimizer later; with one per group, a reduction throws
   * (ERR_OPTION) while a group has no entry in `minLrs`. */
  minLr?: number | readonly number[];
  /** A reduction smaller than this is skipped, ≥ 0. Default 1e-8. */
  eps?: number;
}

const EPOCHS = { integer: true, min: 0 };

const REDUCE_LR_ON_PLATEAU = {
  mode: choice(['min', 'max'] as const, { default: 'min', saveAs: 'mode' }),
  factor: numeric({ min: 0, max: 1 }, { default: 0.1, saveAs: 'factor' }),
  patience: numeric(EPOCHS, { default: 10, saveAs: 'patience' }),
  threshold: numeric({ min: 0 }, { default: 1e-4, saveAs: 'threshold' }),
  thresholdMode: choice(['rel', 'abs'] as const, { default: 'rel', saveAs: 'threshold_mode' }),
  cooldown: numeric(EPOCHS, { default: 0, saveAs: 'cooldown' }),
  /** Saved as `min_lrs`, which may be shorter than the groups (see loadStateDict). */
  minLr: perGroup({ min: 0 }, { default: 0 }),
  eps: numeric({ min: 0 }, { default: 1e-8, saveAs: 'eps' }),
};

/**
 * Reduces the lr when a metric stops improving (PyTorch's `ReduceLROnPlateau`): after more than
 * `patience` epochs without improvement every group's lr is multiplied by `factor` (not below
 * `minLr`), then `cooldown` epochs pass before bad epochs count again. Call `step(metric)` once
 * per epoch, after validation.
 *
 * Unlike the other schedulers it does not extend {@link LRScheduler} (nor does it in PyTorch
 * 1.13), so it cannot be used inside SequentialLR.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class ReduceLROnPlateau {
  readonly optimizer: SchedulableOptimizer;
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  /** One lower bound per group. Push an entry for a group added after construction when
   * `minLr` was given per group. */
  minLrs: number[];
  eps: number;
  /** The best metric seen so far (±Infinity before the first step). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  /** Calls to `step()` so far. */
  lastEpoch = 0;
  private lastLr: number[];
  /** `minLr` when it was given as one number: it bounds groups added later too. */
  readonly #minLrForAll: number | undefined;

  constructor(optimizer: SchedulableOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const where = 'ReduceLROnPlateau';
    const groups = (optimizer as { paramGroups?: unknown } | null | undefined)?.paramGroups;
    if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g: unknown) => typeof (g as { lr?: unknown } | null)?.lr === 'number')) {
      throw typeError('ERR_OPTION', `${where}: optimizer must have a non-empty paramGroups array whose groups have a numeric lr, got ${describe(optimizer)}`);
    }
    const o = readOptions(options, where, REDUCE_LR_ON_PLATEAU, groups.length);
    this.optimizer = optimizer;
    this.mode = o.mode;
    this.factor = o.factor;
    this.patience = o.patience;
    this.threshold = o.threshold;
    this.thresholdMode = o.thresholdMode;
    this.cooldown = o.cooldown;
    this.minLrs = o.minLr;
    this.#minLrForAll = Array.isArray(options.minLr) ? undefined : this.minLrs[0];
    this.eps = o.eps;
    this.best = this.modeWorse;
    // PyTorch 1.13 only sets _last_lr in step(); later versions set it here, which is what
    // getLastLr() before the first step should return.
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The worst possible metric for the mode: where `best` starts. */
  get modeWorse(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Whether `a` counts as an improvement over `best`. */
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1 - this.threshold);
    if (this.mode === 'min') return a < best - this.threshold;
    if (this.thresholdMode === 'rel') return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /**
   * Records this epoch's metric and reduces the lrs if it is the epoch that ends a plateau.
   * @param metric The validation metric of this epoch (any number; NaN never improves).
   * @throws TypeError (code ERR_OPTION), with nothing changed, if the metric is not a number, or
   * if a reduction is due while a group added after construction has no `minLrs` entry (minLr
   * given per group; PyTorch 1.13 raises an IndexError there, after reducing the other groups).
   */
  step(metric: number): void {
    if (typeof metric !== 'number') {
      throw typeError('ERR_OPTION', `ReduceLROnPlateau.step: metric must be a number, got ${describe(metric)}`);
    }
    const better = this.isBetter(metric, this.best);
    let numBadEpochs = better ? 0 : this.numBadEpochs + 1;
    let cooldownCounter = this.cooldownCounter;
    if (cooldownCounter > 0) {
      cooldownCounter -= 1;
      numBadEpochs = 0; // bad epochs during the cooldown do not count
    }
    const reduce = numBadEpochs > this.patience;
    if (reduce) this.#coverAddedGroups();
    this.lastEpoch += 1;
    if (better) this.best = metric;
    this.numBadEpochs = numBadEpochs;
    this.cooldownCounter = cooldownCounter;
    if (reduce) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Gives groups added since construction their lower bound, or refuses to reduce without one. */
  #coverAddedGroups(): void {
    const groups = this.optimizer.paramGroups.length;
    if (this.minLrs.length >= groups) return;
    if (this.#minLrForAll === undefined) {
      throw typeError(
        'ERR_OPTION',
        `ReduceLROnPlateau.step: paramGroups[${this.minLrs.length}] was added after the scheduler was built with one minLr ` +
          `per group, so it has no lower bound; push one onto scheduler.minLrs (it has ${this.minLrs.length} entries for ` +
          `${groups} groups), or give minLr as one number. No lr was changed`,
      );
    }
    while (this.minLrs.length < groups) this.minLrs.push(this.#minLrForAll);
  }

  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((group, i) => {
      const oldLr = group.lr;
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]!);
      if (oldLr - newLr > this.eps) group.lr = newLr;
    });
  }

  /** The lrs after the last `step()`, one per param group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /**
   * PyTorch's keys. `best` and `mode_worse` are ±Infinity until a finite metric arrives; JSON
   * writes those as `null`, which {@link loadStateDict} reads back as the mode's worst value.
   */
  stateDict(): LRSchedulerStateDict {
    return {
      ...saveHyperparameters(this, REDUCE_LR_ON_PLATEAU),
      min_lrs: [...this.minLrs],
      verbose: false,
      cooldown_counter: this.cooldownCounter,
      best: this.best,
      num_bad_epochs: this.numBadEpochs,
      mode_worse: this.modeWorse,
      last_epoch: this.lastEpoch,
      _last_lr: [...this.lastLr],
    };
  }

  /** Loads a state dict from {@link ReduceLROnPlateau.stateDict | stateDict()}, its JSON round trip, or a JSON dump of PyTorch's.
   * Everything is validated before anything changes; absent keys keep their current values.
   * @throws `ERR_STATE_DICT` (TypeError, RangeError or SimdAdamError) naming the key, for a
   *   value of the wrong type or range, a list of the wrong length or an unknown key. */
  loadStateDict(stateDict: LRSchedulerStateDict): void {
    const reader = new StateReader(stateDict, 'ReduceLROnPlateau.loadStateDict');
    const groups = this.optimizer.paramGroups.length;
    const hyperparameters = loadHyperparameters(reader, REDUCE_LR_ON_PLATEAU, groups);
    const minLrs = reader.numbers('min_lrs', groups, 1);
    const cooldownCounter = reader.number('cooldown_counter', EPOCHS);
    const rawBest = reader.raw('best');
    if (rawBest !== undefined && rawBest !== null && typeof rawBest !== 'number') {
      throw typeError('ERR_STATE_DICT', `${reader.where}: best must be a number or null, got ${describe(rawBest)}`);
    }
    const numBadEpochs = reader.number('num_bad_epochs', EPOCHS);
    const lastEpoch = reader.number('last_epoch', EPOCHS);
    const lastLr = reader.numbers('_last_lr', groups);
    // mode_worse follows from mode, as PyTorch's load_state_dict recomputes it.
    reader.ignore('verbose', 'mode_worse');
    reader.finish();

    Object.assign(this, hyperparameters);
    if (minLrs !== undefined) this.minLrs = minLrs;
    if (cooldownCounter !== undefined) this.cooldownCounter = cooldownCounter;
    if (rawBest !== undefined) this.best = rawBest === null ? this.modeWorse : (rawBest as number);
    if (numBadEpochs !== undefined) this.numBadEpochs = numBadEpochs;
    if (lastEpoch !== undefined) this.lastEpoch = lastEpoch;
    if (lastLr !== undefined) this.lastLr = lastLr;
  }
}

refusePytorchSpellings(ReduceLROnPlateau, ['thresholdMode', 'minLrs', 'numBadEpochs', 'cooldownCounter', 'lastEpoch']);
