/** Schedulers that scale the lr by a factor for the first `totalIters` epochs, typically as a
 * warm-up: ConstantLR and LinearLR. */
import { refusePytorchSpellings } from '../common/members.js';
import { LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer } from './base.js';
import { numeric } from './hyperparameters.js';

/** A factor in (0, 1], 1/3 unless given: ConstantLR's `factor`, LinearLR's `startFactor`.
 * PyTorch allows 0, which later restores the lr as 0 * (1 / 0) = NaN. */
const OPENING_FACTOR = { min: 0, minExclusive: true, max: 1, maxInclusive: true };
const TOTAL_ITERS = numeric({ integer: true, min: 1 }, { default: 5, saveAs: 'total_iters' });

const CONSTANT_LR = {
  factor: numeric(OPENING_FACTOR, { default: 1.0 / 3, saveAs: 'factor' }),
  totalIters: TOTAL_ITERS,
};

const LINEAR_LR = {
  startFactor: numeric(OPENING_FACTOR, { default: 1.0 / 3, saveAs: 'start_factor' }),
  endFactor: numeric({ min: 0, max: 1, maxInclusive: true }, { default: 1.0, saveAs: 'end_factor' }),
  totalIters: TOTAL_ITERS,
};

/** Options of {@link ConstantLR}. */
export interface ConstantLROptions extends LRSchedulerOptions {
  /** The factor applied until `totalIters`, in (0, 1]. Default 1/3. */
  factor?: number;
  /** Epochs the factor stays applied: a positive integer. Default 5. */
  totalIters?: number;
}

/** Multiplies each group's lr by `factor` until epoch `totalIters`, then restores it (PyTorch's
 * `ConstantLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class ConstantLR extends LRScheduler {
  factor!: number;
  totalIters!: number;

  constructor(optimizer: SchedulableOptimizer, options: ConstantLROptions = {}) {
    super(optimizer, 'ConstantLR');
    this.attach(this.configure(options, CONSTANT_LR));
  }

  protected computeLr(): number[] {
    if (this.lastEpoch === 0) return this.scaleLrs(this.factor);
    return this.scaleLrs(this.lastEpoch === this.totalIters ? 1.0 / this.factor : 1);
  }

  protected override closedFormLr(): number[] {
    const reached = this.lastEpoch >= this.totalIters ? 1 : 0;
    return this.baseLrs.map((base) => base * (this.factor + reached * (1 - this.factor)));
  }
}

/** Options of {@link LinearLR}. */
export interface LinearLROptions extends LRSchedulerOptions {
  /** Factor at epoch 0, in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** Factor from epoch `totalIters` on, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Epochs the factor takes to go from start to end: a positive integer. Default 5. */
  totalIters?: number;
}

/** Scales each group's lr by a factor going linearly from `startFactor` to `endFactor` over
 * `totalIters` epochs (PyTorch's `LinearLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class LinearLR extends LRScheduler {
  startFactor!: number;
  endFactor!: number;
  totalIters!: number;

  constructor(optimizer: SchedulableOptimizer, options: LinearLROptions = {}) {
    super(optimizer, 'LinearLR');
    this.attach(this.configure(options, LINEAR_LR));
  }

  protected computeLr(): number[] {
    if (this.lastEpoch === 0) return this.scaleLrs(this.startFactor);
    if (this.lastEpoch > this.totalIters) return this.scaleLrs(1);
    const span = this.endFactor - this.startFactor;
    return this.scaleLrs(1 + span / (this.totalIters * this.startFactor + (this.lastEpoch - 1) * span));
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map(
      (base) =>
        base *
        (this.startFactor +
          ((this.endFactor - this.startFactor) * Math.min(this.totalIters, this.lastEpoch)) / this.totalIters),
    );
  }
}

refusePytorchSpellings(ConstantLR, ['totalIters']);
refusePytorchSpellings(LinearLR, ['startFactor', 'endFactor', 'totalIters']);
