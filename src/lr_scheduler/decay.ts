/** Schedulers that only ever multiply the lr down: StepLR, MultiStepLR, ExponentialLR and
 * PolynomialLR. */
import { refusePytorchSpellings } from '../common/members.js';
import { rangeError, typeError } from '../common/errors.js';
import { checkKeys, checkNumber, checkOptionsObject, describe } from '../common/validate.js';
import { LRScheduler, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { bisectRight, readLastEpoch, type StateReader } from './internal.js';

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
  stepSize: number;
  gamma: number;

  constructor(optimizer: SchedulableOptimizer, options: StepLROptions) {
    super(optimizer, 'StepLR');
    const o = checkOptionsObject(options, this.where);
    checkKeys(o, ['stepSize', 'gamma', 'lastEpoch'], this.where);
    // PyTorch accepts any step_size and fails later with ZeroDivisionError or odd epochs.
    this.stepSize = checkNumber(o.stepSize, 'stepSize', this.where, { integer: true, min: 1 });
    this.gamma = o.gamma === undefined ? 0.1 : checkNumber(o.gamma, 'gamma', this.where, { min: 0 });
    this.attach(readLastEpoch(o.lastEpoch, this.where));
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }

  protected ownState(): LRSchedulerStateDict {
    return { step_size: this.stepSize, gamma: this.gamma };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const stepSize = reader.number('step_size', { integer: true, min: 1 });
    const gamma = reader.number('gamma', { min: 0 });
    return () => {
      base();
      if (stepSize !== undefined) this.stepSize = stepSize;
      if (gamma !== undefined) this.gamma = gamma;
    };
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

function checkMilestones(value: unknown, name: string, where: string): number[] {
  if (!Array.isArray(value)) {
    throw typeError('ERR_OPTION', `${where}: ${name} must be an Array of non-negative integers, got ${describe(value)}`);
  }
  return value.map((m: unknown, i) => checkNumber(m, `${name}[${i}]`, where, { integer: true, min: 0 }));
}

/** Multiplies each group's lr by `gamma` at every milestone (PyTorch's `MultiStepLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class MultiStepLR extends LRScheduler {
  /** Sorted, with repeats. */
  milestones: number[];
  gamma: number;

  constructor(optimizer: SchedulableOptimizer, options: MultiStepLROptions) {
    super(optimizer, 'MultiStepLR');
    const o = checkOptionsObject(options, this.where);
    checkKeys(o, ['milestones', 'gamma', 'lastEpoch'], this.where);
    this.milestones = checkMilestones(o.milestones, 'milestones', this.where).sort((a, b) => a - b);
    this.gamma = o.gamma === undefined ? 0.1 : checkNumber(o.gamma, 'gamma', this.where, { min: 0 });
    this.attach(readLastEpoch(o.lastEpoch, this.where));
  }

  private count(epoch: number): number {
    return this.milestones.filter((m) => m === epoch).length;
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const hits = this.count(this.lastEpoch);
    if (hits === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** hits);
  }

  protected override closedFormLr(): number[] {
    const passed = bisectRight(this.milestones, this.lastEpoch);
    return this.baseLrs.map((base) => base * this.gamma ** passed);
  }

  /** PyTorch stores a `Counter`, whose JSON form is `{ "epoch": count }`. */
  protected ownState(): LRSchedulerStateDict {
    const counter: Record<string, number> = {};
    for (const m of this.milestones) counter[String(m)] = (counter[String(m)] ?? 0) + 1;
    return { milestones: counter, gamma: this.gamma };
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
    const gamma = reader.number('gamma', { min: 0 });
    return () => {
      base();
      if (milestones !== undefined) this.milestones = milestones.sort((a, b) => a - b);
      if (gamma !== undefined) this.gamma = gamma;
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
  gamma: number;

  constructor(optimizer: SchedulableOptimizer, options: ExponentialLROptions) {
    super(optimizer, 'ExponentialLR');
    const o = checkOptionsObject(options, this.where);
    checkKeys(o, ['gamma', 'lastEpoch'], this.where);
    this.gamma = checkNumber(o.gamma, 'gamma', this.where, { min: 0 });
    this.attach(readLastEpoch(o.lastEpoch, this.where));
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** this.lastEpoch);
  }

  protected ownState(): LRSchedulerStateDict {
    return { gamma: this.gamma };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const gamma = reader.number('gamma', { min: 0 });
    return () => {
      base();
      if (gamma !== undefined) this.gamma = gamma;
    };
  }
}

/** Options of {@link PolynomialLR}. */
export interface PolynomialLROptions extends LRSchedulerOptions {
  /** Epochs over which the lr decays to 0: a positive integer. Default 5. */
  totalIters?: number;
  /** Power of the polynomial, >= 0. Default 1 (linear). */
  power?: number;
}

/** Decays each group's lr to 0 over `totalIters` epochs as `(1 - t/totalIters) ** power`, then
 * holds it (PyTorch's `PolynomialLR`).
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class PolynomialLR extends LRScheduler {
  totalIters: number;
  power: number;

  constructor(optimizer: SchedulableOptimizer, options: PolynomialLROptions = {}) {
    super(optimizer, 'PolynomialLR');
    const o = checkOptionsObject(options, this.where);
    checkKeys(o, ['totalIters', 'power', 'lastEpoch'], this.where);
    this.totalIters = o.totalIters === undefined ? 5 : checkNumber(o.totalIters, 'totalIters', this.where, { integer: true, min: 1 });
    // A negative power divides by zero at totalIters; PyTorch lets it through.
    this.power = o.power === undefined ? 1 : checkNumber(o.power, 'power', this.where, { min: 0 });
    this.attach(readLastEpoch(o.lastEpoch, this.where));
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch > this.totalIters) return groups.map((g) => g.lr);
    const decay =
      ((1.0 - this.lastEpoch / this.totalIters) / (1.0 - (this.lastEpoch - 1) / this.totalIters)) ** this.power;
    return groups.map((g) => g.lr * decay);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map(
      (base) => base * (1.0 - Math.min(this.totalIters, this.lastEpoch) / this.totalIters) ** this.power,
    );
  }

  protected ownState(): LRSchedulerStateDict {
    return { total_iters: this.totalIters, power: this.power };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const totalIters = reader.number('total_iters', { integer: true, min: 1 });
    const power = reader.number('power', { min: 0 });
    return () => {
      base();
      if (totalIters !== undefined) this.totalIters = totalIters;
      if (power !== undefined) this.power = power;
    };
  }
}

refusePytorchSpellings(StepLR, ['stepSize']);
refusePytorchSpellings(MultiStepLR);
refusePytorchSpellings(ExponentialLR);
refusePytorchSpellings(PolynomialLR, ['totalIters']);
