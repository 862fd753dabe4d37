/** OneCycleLR: the 1cycle policy of "Super-Convergence" (Smith & Topin), as fastai and PyTorch
 * implement it. */
import { refusePytorchSpellings } from '../common/members.js';
import { rangeError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { LRScheduler, groupRecord, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { choice, flag, numeric, optionalNumeric, perGroup } from './hyperparameters.js';
import type { StateReader } from './internal.js';

/** Options of {@link OneCycleLR}. Give either `totalSteps`, or both `epochs` and
 * `stepsPerEpoch` (then `totalSteps = epochs * stepsPerEpoch`). */
export interface OneCycleLROptions extends LRSchedulerOptions {
  /** Peak lr (≥ 0), one for all groups or one per group. Required, no default. */
  maxLr: number | readonly number[];
  /** Number of steps in the cycle, a positive integer; `step()` may be called this many
   * times. Default: `epochs * stepsPerEpoch`; one of the two ways is required. */
  totalSteps?: number;
  /** A positive integer, used with `stepsPerEpoch` when `totalSteps` is not given. No default. */
  epochs?: number;
  /** A positive integer, used with `epochs` when `totalSteps` is not given. No default. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the lr, in [0, 1]. Default 0.3. */
  pctStart?: number;
  /** Shape of each phase: `'cos'` (default) or `'linear'`. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle `betas[0]` inversely to the lr, between `maxMomentum` and `baseMomentum`. Default
   * true. */
  cycleMomentum?: boolean;
  /** `betas[0]` at the lr peak, in [0, 1). Default 0.85. */
  baseMomentum?: number | readonly number[];
  /** `betas[0]` at the start and end of the cycle, in [0, 1). Default 0.95. */
  maxMomentum?: number | readonly number[];
  /** The starting lr is `maxLr / divFactor`. Default 25. */
  divFactor?: number;
  /** The final lr is the starting lr `/ finalDivFactor`. Default 1e4. */
  finalDivFactor?: number;
  /** Use three phases as in the paper (up, down to the starting lr, then annihilate) instead of
   * fastai's two. Default false. */
  threePhase?: boolean;
}

/** The group keys a phase anneals between, named as on our groups. */
type GroupKey = 'initialLr' | 'maxLr' | 'minLr' | 'maxMomentum' | 'baseMomentum';

interface Phase {
  endStep: number;
  startLr: GroupKey;
  endLr: GroupKey;
  startMomentum: GroupKey;
  endMomentum: GroupKey;
}

/** The same keys as PyTorch names them in `_schedule_phases`. */
const TORCH_KEY: Record<GroupKey, string> = {
  initialLr: 'initial_lr',
  maxLr: 'max_lr',
  minLr: 'min_lr',
  maxMomentum: 'max_momentum',
  baseMomentum: 'base_momentum',
};
const FROM_TORCH_KEY = Object.fromEntries(Object.entries(TORCH_KEY).map(([ours, torch]) => [torch, ours])) as Record<
  string,
  GroupKey
>;

const STEPS = { integer: true, min: 1 };
// Momentum here is Adam's beta1, so it must stay a valid beta.
const MOMENTUM = { min: 0, max: 1 };
const POSITIVE = { min: 0, minExclusive: true };

const ONE_CYCLE_LR = {
  maxLr: perGroup({ min: 0 }),
  totalSteps: optionalNumeric(STEPS, { saveAs: 'total_steps' }),
  epochs: optionalNumeric(STEPS),
  stepsPerEpoch: optionalNumeric(STEPS),
  pctStart: numeric({ min: 0, max: 1, maxInclusive: true }, { default: 0.3 }),
  // torch 1.13 saves the bound method itself; torch >= 2.1 saves this name instead.
  annealStrategy: choice(['cos', 'linear'] as const, { default: 'cos', saveAs: '_anneal_func_type' }),
  cycleMomentum: flag({ default: true, saveAs: 'cycle_momentum' }),
  baseMomentum: perGroup(MOMENTUM, { default: 0.85 }),
  maxMomentum: perGroup(MOMENTUM, { default: 0.95 }),
  divFactor: numeric(POSITIVE, { default: 25 }),
  finalDivFactor: numeric(POSITIVE, { default: 1e4 }),
  threePhase: flag({ default: false }),
};

function schedulePhases(totalSteps: number, pctStart: number, threePhase: boolean): Phase[] {
  const rise = pctStart * totalSteps - 1;
  if (threePhase) {
    return [
      { endStep: rise, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
      { endStep: 2 * pctStart * totalSteps - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
      { endStep: totalSteps - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
    ];
  }
  return [
    { endStep: rise, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
    { endStep: totalSteps - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
  ];
}

function annealCos(start: number, end: number, pct: number): number {
  const cosOut = Math.cos(Math.PI * pct) + 1;
  return end + ((start - end) / 2.0) * cosOut;
}

function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}

/**
 * The 1cycle policy (PyTorch's `OneCycleLR`): the lr rises from `maxLr / divFactor` to `maxLr`
 * over the first `pctStart` of the cycle, then falls to `maxLr / divFactor / finalDivFactor`;
 * `betas[0]` moves the opposite way unless `cycleMomentum` is false. Call `step()` after every
 * batch. Not chainable.
 *
 * Construction writes `initialLr`, `maxLr` and `minLr` on every group (and `maxMomentum`,
 * `baseMomentum` when cycling momentum), replacing any `initialLr` an earlier scheduler set.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  private phases: Phase[];

  constructor(optimizer: SchedulableOptimizer, options: OneCycleLROptions) {
    super(optimizer, 'OneCycleLR');
    const where = this.where;
    const o = this.readOptions(options, ONE_CYCLE_LR);
    const groups = this.optimizer.paramGroups;
    if (o.totalSteps !== undefined) {
      this.totalSteps = o.totalSteps;
    } else if (o.epochs !== undefined && o.stepsPerEpoch !== undefined) {
      this.totalSteps = o.epochs * o.stepsPerEpoch;
    } else {
      throw typeError(
        'ERR_OPTION',
        `${where}: give either totalSteps, or both epochs and stepsPerEpoch; got epochs ${describe(o.epochs)} and stepsPerEpoch ${describe(o.stepsPerEpoch)}`,
      );
    }
    this.phases = schedulePhases(this.totalSteps, o.pctStart, o.threePhase);
    // PyTorch divides by the phase length and raises ZeroDivisionError when a step lands in an
    // empty phase; say so now instead of at the end of a training run.
    let previousEnd = 0;
    for (const phase of this.phases) {
      if (phase.endStep === previousEnd) {
        throw rangeError(
          'ERR_OPTION',
          `${where}: pctStart ${o.pctStart} with totalSteps ${this.totalSteps} gives a phase of zero steps, whose lr ` +
            `would be 0 / 0 (PyTorch raises ZeroDivisionError when a step lands in it); choose another pctStart`,
        );
      }
      previousEnd = phase.endStep;
    }
    this.annealStrategy = o.annealStrategy;
    this.cycleMomentum = o.cycleMomentum;
    const lastEpoch = o.lastEpoch;
    if (this.cycleMomentum) {
      groups.forEach((group, i) => {
        if (!Array.isArray(group.betas) || group.betas.length !== 2) {
          throw typeError(
            'ERR_OPTION',
            `${where}: cycleMomentum needs paramGroups[${i}].betas as [beta1, beta2], got ${describe(group.betas)}; ` +
              `pass cycleMomentum: false for an optimizer without betas`,
          );
        }
      });
    }
    if (lastEpoch === -1) {
      groups.forEach((group, i) => {
        const record = groupRecord(group);
        record.initialLr = o.maxLr[i]! / o.divFactor;
        record.maxLr = o.maxLr[i]!;
        record.minLr = (record.initialLr as number) / o.finalDivFactor;
        if (this.cycleMomentum) {
          group.betas = [o.maxMomentum[i]!, group.betas[1]];
          record.maxMomentum = o.maxMomentum[i]!;
          record.baseMomentum = o.baseMomentum[i]!;
        }
      });
    } else {
      this.checkResumableGroups(lastEpoch);
    }
    this.attach(lastEpoch);
  }

  private checkResumableGroups(lastEpoch: number): void {
    const keys: GroupKey[] = ['initialLr', 'maxLr', 'minLr'];
    if (this.cycleMomentum) keys.push('maxMomentum', 'baseMomentum');
    this.optimizer.paramGroups.forEach((group, i) => {
      for (const key of keys) {
        if (typeof groupRecord(group)[key] !== 'number') {
          throw rangeError(
            'ERR_OPTION',
            `${this.where}: lastEpoch ${lastEpoch} resumes a schedule, but paramGroups[${i}].${key} is ` +
              `${describe(groupRecord(group)[key])}; load the optimizer's state dict first, or pass lastEpoch: -1`,
          );
        }
      }
    });
  }

  /** Refuses to run past the end of the cycle before touching anything (PyTorch raises after
   * it has already advanced `last_epoch`). */
  private checkWithinCycle(epoch: number): void {
    if (epoch > this.totalSteps) {
      throw rangeError(
        'ERR_OPTION',
        `${this.where}: step ${epoch} is past the end of the cycle (totalSteps ${this.totalSteps}); ` +
          `raise totalSteps (or epochs * stepsPerEpoch) to train longer`,
      );
    }
  }

  override step(): void {
    this.checkWithinCycle(this.lastEpoch + 1);
    super.step();
  }

  /** @internal */
  override _stepToEpoch(epoch: number): void {
    this.checkWithinCycle(epoch);
    super._stepToEpoch(epoch);
  }

  /** Every group needs the keys the construction set: PyTorch raises a KeyError for a group added
   * afterwards; this throws before any group changes. */
  private checkGroupKeys(): void {
    const keys: GroupKey[] = ['initialLr', 'maxLr', 'minLr'];
    if (this.cycleMomentum) keys.push('maxMomentum', 'baseMomentum');
    this.optimizer.paramGroups.forEach((group, i) => {
      const missing = keys.filter((key) => typeof groupRecord(group)[key] !== 'number');
      if (missing.length === 0) return;
      throw typeError(
        'ERR_OPTION',
        `${this.where}: paramGroups[${i}] has no ${missing.join(', ')} (added after the scheduler was built?); OneCycleLR ` +
          `needs ${keys.join(', ')} on every group: set them on it, or build the scheduler after adding the group`,
      );
    });
  }

  protected computeLr(): number[] {
    this.checkGroupKeys();
    const anneal = this.annealStrategy === 'cos' ? annealCos : annealLinear;
    const stepNum = this.lastEpoch;
    const last = this.phases.length - 1;
    return this.optimizer.paramGroups.map((group) => {
      const record = groupRecord(group) as Record<GroupKey, number>;
      let startStep = 0;
      let lr = group.lr;
      for (let i = 0; i <= last; i++) {
        const phase = this.phases[i]!;
        if (stepNum <= phase.endStep || i === last) {
          const pct = (stepNum - startStep) / (phase.endStep - startStep);
          lr = anneal(record[phase.startLr], record[phase.endLr], pct);
          if (this.cycleMomentum) {
            const momentum = anneal(record[phase.startMomentum], record[phase.endMomentum], pct);
            group.betas = [momentum, group.betas[1]];
          }
          break;
        }
        startStep = phase.endStep;
      }
      return lr;
    });
  }

  protected override ownState(): LRSchedulerStateDict {
    const state: LRSchedulerStateDict = {
      ...super.ownState(),
      _schedule_phases: this.phases.map((p) => ({
        end_step: p.endStep,
        start_lr: TORCH_KEY[p.startLr],
        end_lr: TORCH_KEY[p.endLr],
        start_momentum: TORCH_KEY[p.startMomentum],
        end_momentum: TORCH_KEY[p.endMomentum],
      })),
    };
    if (this.cycleMomentum) state.use_beta1 = true;
    return state;
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const phases = readPhases(reader.raw('_schedule_phases'), reader.where);
    const useBeta1 = reader.boolean('use_beta1');
    if (useBeta1 === false) {
      throw rangeError('ERR_STATE_DICT', `${reader.where}: use_beta1 is false (SGD-style momentum), but these groups cycle betas[0]`);
    }
    reader.ignore('anneal_func');
    return () => {
      base();
      if (phases !== undefined) this.phases = phases;
    };
  }
}

function readPhases(raw: unknown, where: string): Phase[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw typeError('ERR_STATE_DICT', `${where}: _schedule_phases must be a non-empty Array, got ${describe(raw)}`);
  }
  return raw.map((entry: unknown, i): Phase => {
    const p = entry as Record<string, unknown> | null;
    const key = (name: string): GroupKey => {
      const value = p?.[name];
      const ours = typeof value === 'string' ? FROM_TORCH_KEY[value] : undefined;
      if (ours === undefined) {
        throw typeError(
          'ERR_STATE_DICT',
          `${where}: _schedule_phases[${i}].${name} must be one of ${Object.values(TORCH_KEY).join(', ')}, got ${describe(value)}`,
        );
      }
      return ours;
    };
    if (typeof p?.end_step !== 'number' || !Number.isFinite(p.end_step)) {
      throw typeError('ERR_STATE_DICT', `${where}: _schedule_phases[${i}].end_step must be a finite number, got ${describe(p?.end_step)}`);
    }
    return {
      endStep: p.end_step,
      startLr: key('start_lr'),
      endLr: key('end_lr'),
      startMomentum: key('start_momentum'),
      endMomentum: key('end_momentum'),
    };
  });
}

refusePytorchSpellings(OneCycleLR, ['totalSteps', 'annealStrategy', 'cycleMomentum']);
