/** Cosine annealing: CosineAnnealingLR and CosineAnnealingWarmRestarts (SGDR). */
import { refusePytorchSpellings } from '../common/members.js';
import { rangeError } from '../common/errors.js';
import { LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer } from './base.js';
import { numeric, savedOnly } from './hyperparameters.js';

const ETA_MIN = numeric({}, { default: 0, saveAs: 'eta_min' });

const COSINE_ANNEALING_LR = {
  tMax: numeric({ min: 0, minExclusive: true }, { saveAs: 'T_max' }),
  etaMin: ETA_MIN,
};

const COSINE_ANNEALING_WARM_RESTARTS = {
  t0: numeric({ integer: true, min: 1 }, { saveAs: 'T_0' }),
  tI: savedOnly(numeric({ min: 0, minExclusive: true }, { saveAs: 'T_i' })),
  tMult: numeric({ integer: true, min: 1 }, { default: 1, saveAs: 'T_mult' }),
  etaMin: ETA_MIN,
  tCur: savedOnly(numeric({ min: -1 }, { saveAs: 'T_cur' })),
};

/** Options of {@link CosineAnnealingLR}. */
export interface CosineAnnealingLROptions extends LRSchedulerOptions {
  /** Half-period of the cosine, in epochs: a number > 0. Required, no default. */
  tMax: number;
  /** The lr at the bottom of the cosine. Default 0. */
  etaMin?: number;
}

/**
 * Anneals each group's lr from its initial value to `etaMin` along half a cosine over `tMax`
 * epochs (PyTorch's `CosineAnnealingLR`).
 *
 * Like PyTorch it uses the recursive form, so the lr keeps following the cosine past `tMax`
 * (it rises again) and outside changes to `lr` carry through.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax!: number;
  etaMin!: number;

  constructor(optimizer: SchedulableOptimizer, options: CosineAnnealingLROptions) {
    super(optimizer, 'CosineAnnealingLR');
    this.attach(this.configure(options, COSINE_ANNEALING_LR));
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const { lastEpoch: epoch, tMax, etaMin } = this;
    if (epoch === 0) return groups.map((g) => g.lr);
    // Resuming with lastEpoch > 0: there is no previous lr to recurse from.
    if (this.stepCount === 1 && epoch > 0) {
      return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((epoch * Math.PI) / tMax))) / 2);
    }
    // At the bottom of the cosine the ratio below is 0/0; PyTorch steps up by the first increment.
    // It pairs baseLrs with the groups, so (as in PyTorch) a group added later keeps its lr here.
    if ((epoch - 1 - tMax) % (2 * tMax) === 0) {
      return this.baseLrs
        .slice(0, groups.length)
        .map((base, i) => groups[i]!.lr + ((base - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    return groups.map(
      (g) =>
        ((1 + Math.cos((Math.PI * epoch) / tMax)) / (1 + Math.cos((Math.PI * (epoch - 1)) / tMax))) * (g.lr - etaMin) +
        etaMin,
    );
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map(
      (base) => this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2,
    );
  }
}

/** Options of {@link CosineAnnealingWarmRestarts}. */
export interface CosineAnnealingWarmRestartsOptions extends LRSchedulerOptions {
  /** Epochs until the first restart: a positive integer. Required, no default. */
  t0: number;
  /** Factor by which the period grows after each restart: an integer >= 1. Default 1. */
  tMult?: number;
  /** The lr at the bottom of each cosine. Default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing with warm restarts, SGDR (PyTorch's `CosineAnnealingWarmRestarts`): the lr
 * follows half a cosine from its initial value to `etaMin` over `t0` epochs, then jumps back up;
 * each period is `tMult` times the previous one. Not chainable: the lr is computed from
 * `baseLrs` alone.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  t0!: number;
  /** Length of the current period. */
  tI: number;
  tMult!: number;
  etaMin!: number;
  /** Epochs since the last restart (fractional after a fractional `_stepToEpoch`). */
  tCur: number;

  constructor(optimizer: SchedulableOptimizer, options: CosineAnnealingWarmRestartsOptions) {
    super(optimizer, 'CosineAnnealingWarmRestarts');
    const lastEpoch = this.configure(options, COSINE_ANNEALING_WARM_RESTARTS);
    this.tI = this.t0;
    this.tCur = lastEpoch;
    this.attach(lastEpoch);
  }

  protected computeLr(): number[] {
    return this.baseLrs.map(
      (base) => this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2,
    );
  }

  /** PyTorch's own `step()`, which (unlike the base class) leaves `_step_count` alone. */
  override step(): void {
    if (this.lastEpoch < 0) {
      this.advanceTo(0);
      return;
    }
    this.tCur += 1;
    if (this.tCur >= this.tI) {
      this.tCur -= this.tI;
      this.tI *= this.tMult;
    }
    this.lastEpoch += 1;
    this.applyLrs(this.computeLr());
  }

  /** @internal PyTorch's `step(epoch)`. */
  override _stepToEpoch(epoch: number): void {
    this.advanceTo(epoch);
  }

  private advanceTo(epoch: number): void {
    if (!(epoch >= 0)) {
      throw rangeError('ERR_OPTION', `${this.where}: epoch must be >= 0, got ${epoch}`);
    }
    if (epoch >= this.t0) {
      if (this.tMult === 1) {
        this.tCur = epoch % this.t0;
      } else {
        const n = Math.trunc(Math.log((epoch / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
        this.tCur = epoch - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
        this.tI = this.t0 * this.tMult ** n;
      }
    } else {
      this.tI = this.t0;
      this.tCur = epoch;
    }
    this.lastEpoch = Math.floor(epoch);
    this.applyLrs(this.computeLr());
  }
}

refusePytorchSpellings(CosineAnnealingLR, ['tMax', 'etaMin']);
refusePytorchSpellings(CosineAnnealingWarmRestarts, ['tI', 'tMult', 'etaMin', 'tCur']);
