/** Schedulers that scale the lr by a factor for the first `totalIters` epochs, typically as a
 * warm-up: ConstantLR and LinearLR. */
import { refusePytorchSpellings } from '../common/members.js';
import { checkKeys, checkNumber, checkOptionsObject } from '../common/validate.js';
import { LRScheduler, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { readLastEpoch, type StateReader } from './internal.js';

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
  factor: number;
  totalIters: number;

  constructor(optimizer: SchedulableOptimizer, options: ConstantLROptions = {}) {
    super(optimizer, 'ConstantLR');
    const o = checkOptionsObject(options, this.where);
    checkKeys(o, ['factor', 'totalIters', 'lastEpoch'], this.where);
    // PyTorch allows factor 0, which restores the lr as 0 * (1 / 0) = NaN.
    this.factor =
      o.factor === undefined ? 1.0 / 3 : checkNumber(o.factor, 'factor', this.where, { min: 0, minExclusive: true, max: 1, maxInclusive: true });
    this.totalIters = o.totalIters === undefined ? 5 : checkNumber(o.totalIters, 'totalIters', this.where, { integer: true, min: 1 });
    this.attach(readLastEpoch(o.lastEpoch, this.where));
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr * this.factor);
    if (this.lastEpoch !== this.totalIters) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1.0 / this.factor));
  }

  protected override closedFormLr(): number[] {
    const reached = this.lastEpoch >= this.totalIters ? 1 : 0;
    return this.baseLrs.map((base) => base * (this.factor + reached * (1 - this.factor)));
  }

  protected ownState(): LRSchedulerStateDict {
    return { factor: this.factor, total_iters: this.totalIters };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const factor = reader.number('factor', { min: 0, minExclusive: true, max: 1, maxInclusive: true });
    const totalIters = reader.number('total_iters', { integer: true, min: 1 });
    return () => {
      base();
      if (factor !== undefined) this.factor = factor;
      if (totalIters !== undefined) this.totalIters = totalIters;
    };
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
  startFactor: number;
  endFactor: number;
  totalIters: number;

  constructor(optimizer: SchedulableOptimizer, options: LinearLROptions = {}) {
    super(optimizer, 'LinearLR');
    const o = checkOptionsObject(options, this.where);
    checkKeys(o, ['startFactor', 'endFactor', 'totalIters', 'lastEpoch'], this.where);
    this.startFactor =
      o.startFactor === undefined
        ? 1.0 / 3
        : checkNumber(o.startFactor, 'startFactor', this.where, { min: 0, minExclusive: true, max: 1, maxInclusive: true });
    this.endFactor =
      o.endFactor === undefined ? 1.0 : checkNumber(o.endFactor, 'endFactor', this.where, { min: 0, max: 1, maxInclusive: true });
    this.totalIters = o.totalIters === undefined ? 5 : checkNumber(o.totalIters, 'totalIters', this.where, { integer: true, min: 1 });
    this.attach(readLastEpoch(o.lastEpoch, this.where));
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr * this.startFactor);
    if (this.lastEpoch > this.totalIters) return groups.map((g) => g.lr);
    const span = this.endFactor - this.startFactor;
    return groups.map(
      (g) => g.lr * (1 + span / (this.totalIters * this.startFactor + (this.lastEpoch - 1) * span)),
    );
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map(
      (base) =>
        base *
        (this.startFactor +
          ((this.endFactor - this.startFactor) * Math.min(this.totalIters, this.lastEpoch)) / this.totalIters),
    );
  }

  protected ownState(): LRSchedulerStateDict {
    return { start_factor: this.startFactor, end_factor: this.endFactor, total_iters: this.totalIters };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const startFactor = reader.number('start_factor', { min: 0, minExclusive: true, max: 1, maxInclusive: true });
    const endFactor = reader.number('end_factor', { min: 0, max: 1, maxInclusive: true });
    const totalIters = reader.number('total_iters', { integer: true, min: 1 });
    return () => {
      base();
      if (startFactor !== undefined) this.startFactor = startFactor;
      if (endFactor !== undefined) this.endFactor = endFactor;
      if (totalIters !== undefined) this.totalIters = totalIters;
    };
  }
}

refusePytorchSpellings(ConstantLR, ['totalIters']);
refusePytorchSpellings(LinearLR, ['startFactor', 'endFactor', 'totalIters']);
