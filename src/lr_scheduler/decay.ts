/** Schedulers that only ever multiply the lr down: StepLR, MultiStepLR, ExponentialLR and
 * PolynomialLR. */
import { refusePytorchSpellings } from '../common/members.js';
import { rangeError, typeError } from '../common/errors.js';
import { checkNumber, describe } from '../common/validate.js';
import { LRScheduler, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { custom, numeric } from './hyperparameters.js';
import { bisectRight, type StateReader } from './internal.js';

/** The multiplicative factor, ≥ 0; StepLR and MultiStepLR default it to 0.1. */
const GAMMA = numeric({ min: 0 }, { saveAs: 'gamma' });

const STEP_LR = {
  // PyTorch accepts any step_size and fails later with ZeroDivisionError or odd epochs.
  stepSize: numeric({ integer: true, min: 1 }, { saveAs: 'step_size' }),
  gamma: { ...GAMMA, default: 0.1 },
};

/** Options of {@link StepLR}. */
export interface StepLROptions extends LRSchedulerOptions {
  /** Period of the decay, in epochs: a positive integer. Required, no default. */
  stepSize: number;
  /** Multiplicative factor applied every `stepSize` epochs, ≥ 0. Default 0.1. */
  gamma?: number;
}

/** Multiplies each group's lr by `gamma` every `stepSize` epochs (PyTorch's `StepLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class StepLR extends LRScheduler {
  stepSize!: number;
  gamma!: number;

  constructor(optimizer: SchedulableOptimizer, options: StepLROptions) {
    super(optimizer, 'StepLR');
    this.attach(this.configure(options, STEP_LR));
  }

  protected computeLr(): number[] {
    const decays = this.lastEpoch !== 0 && this.lastEpoch % this.stepSize === 0;
    return this.scaleLrs(decays ? this.gamma : 1);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Options of {@link MultiStepLR}. */
export interface MultiStepLROptions extends LRSchedulerOptions {
  /** Epochs at which the lr is multiplied by `gamma`. A repeated epoch applies `gamma` once per
   * occurrence, as PyTorch's `Counter` does. Integers ≥ 0, in any order. Required, no default. */
  milestones: readonly number[];
  /** Multiplicative factor, ≥ 0. Default 0.1. */
  gamma?: number;
}

const MULTI_STEP_LR = {
  /** Saved as PyTorch's Counter by MultiStepLR itself. */
  milestones: custom((value, name, where) => {
    if (!Array.isArray(value)) {
      throw typeError('ERR_OPTION', `${where}: ${name} must be an Array of non-negative integers, got ${describe(value)}`);
    }
    return value.map((m: unknown, i) => checkNumber(m, `${name}[${i}]`, where, { integer: true, min: 0 })).sort((a, b) => a - b);
  }),
  gamma: { ...GAMMA, default: 0.1 },
};

/** Multiplies each group's lr by `gamma` at every milestone (PyTorch's `MultiStepLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class MultiStepLR extends LRScheduler {
  /** Sorted, with repeats. */
  milestones!: number[];
  gamma!: number;

  constructor(optimizer: SchedulableOptimizer, options: MultiStepLROptions) {
    super(optimizer, 'MultiStepLR');
    this.attach(this.configure(options, MULTI_STEP_LR));
  }

  private count(epoch: number): number {
    return this.milestones.filter((m) => m === epoch).length;
  }

  protected computeLr(): number[] {
    return this.scaleLrs(this.gamma ** this.count(this.lastEpoch));
  }

  protected override closedFormLr(): number[] {
    const passed = bisectRight(this.milestones, this.lastEpoch);
    return this.baseLrs.map((base) => base * this.gamma ** passed);
  }

  /** PyTorch stores a `Counter`, whose JSON form is `{ "epoch": count }`. */
  protected override ownState(): LRSchedulerStateDict {
    const counter: Record<string, number> = {};
    for (const m of this.milestones) counter[String(m)] = (counter[String(m)] ?? 0) + 1;
    return { milestones: counter, ...super.ownState() };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const raw = reader.raw('milestones');
    let milestones: number[] | undefined;
    if (Array.isArray(raw)) {
      milestones = checkStateMilestones(raw, reader.where);
    } else if (raw !== undefined) {
      if (raw === null || typeof raw !== 'object') {
        throw typeError('ERR_STATE_DICT', `${reader.where}: milestones must be a { epoch: count } object, got ${describe(raw)}`);
      }
      milestones = [];
      for (const [key, count] of Object.entries(raw)) {
        const epoch = Number(key);
        if (!/^\d+$/.test(key) || typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
          throw rangeError(
            'ERR_STATE_DICT',
            `${reader.where}: milestones must map non-negative integer epochs to positive counts, got '${key}': ${describe(count)}`,
          );
        }
        for (let k = 0; k < count; k++) milestones.push(epoch);
      }
    }
    return () => {
      base();
      if (milestones !== undefined) this.milestones = milestones.sort((a, b) => a - b);
    };
  }
}

function checkStateMilestones(raw: unknown[], where: string): number[] {
  return raw.map((m, i) => {
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 0) {
      throw rangeError('ERR_STATE_DICT', `${where}: milestones[${i}] must be a non-negative integer, got ${describe(m)}`);
    }
    return m;
  });
}

/** Options of {@link ExponentialLR}. */
export interface ExponentialLROptions extends LRSchedulerOptions {
  /** Multiplicative factor applied every epoch, ≥ 0. Required, no default. */
  gamma: number;
}

/** Multiplies each group's lr by `gamma` every epoch (PyTorch's `ExponentialLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class ExponentialLR extends LRScheduler {
  gamma!: number;

  constructor(optimizer: SchedulableOptimizer, options: ExponentialLROptions) {
    super(optimizer, 'ExponentialLR');
    this.attach(this.configure(options, { gamma: GAMMA }));
  }

  protected computeLr(): number[] {
    return this.scaleLrs(this.lastEpoch === 0 ? 1 : this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** this.lastEpoch);
  }
}

/** Options of {@link PolynomialLR}. */
export interface PolynomialLROptions extends LRSchedulerOptions {
  /** Epochs over which the lr decays to 0: a positive integer. Default 5. */
  totalIters?: number;
  /** Power of the polynomial, >= 0. Default 1 (linear). */
  power?: number;
}

const POLYNOMIAL_LR = {
  totalIters: numeric({ integer: true, min: 1 }, { default: 5, saveAs: 'total_iters' }),
  // A negative power divides by zero at totalIters; PyTorch lets it through.
  power: numeric({ min: 0 }, { default: 1, saveAs: 'power' }),
};

/** Decays each group's lr to 0 over `totalIters` epochs as `(1 - t/totalIters) ** power`, then
 * holds it (PyTorch's `PolynomialLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class PolynomialLR extends LRScheduler {
  totalIters!: number;
  power!: number;

  constructor(optimizer: SchedulableOptimizer, options: PolynomialLROptions = {}) {
    super(optimizer, 'PolynomialLR');
    this.attach(this.configure(options, POLYNOMIAL_LR));
  }

  protected computeLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch > this.totalIters) return this.scaleLrs(1);
    return this.scaleLrs(((1.0 - this.lastEpoch / this.totalIters) / (1.0 - (this.lastEpoch - 1) / this.totalIters)) ** this.power);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map(
      (base) => base * (1.0 - Math.min(this.totalIters, this.lastEpoch) / this.totalIters) ** this.power,
    );
  }
}

refusePytorchSpellings(StepLR, ['stepSize']);
refusePytorchSpellings(MultiStepLR);
refusePytorchSpellings(ExponentialLR);
refusePytorchSpellings(PolynomialLR, ['totalIters']);
