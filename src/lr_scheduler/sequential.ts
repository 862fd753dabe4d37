import { rangeError, typeError } from '../common/errors.js';
import { checkKeys, checkNumber, checkOptionsObject, describe } from '../common/validate.js';
import { LRScheduler, groupRecord, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { bisectRight, readLastEpoch, type StateReader } from './internal.js';
import { ChainedScheduler } from './chained.js';

/** Options of {@link SequentialLR}. */
export interface SequentialLROptions extends LRSchedulerOptions {
  /** The schedulers to run one after another, all built on the same optimizer (not
   * ReduceLROnPlateau). Required, no default. */
  schedulers: readonly LRScheduler[];
  /** The epochs at which each following scheduler takes over: strictly increasing positive
   * integers, one fewer than `schedulers`. Required, no default. */
  milestones: readonly number[];
}

/**
 * Runs `schedulers[0]` until `milestones[0]`, then `schedulers[1]` restarted at its epoch 0, and
 * so on (PyTorch's `SequentialLR`). A typical use is a LinearLR warm-up followed by a
 * CosineAnnealingLR.
 *
 * Build the schedulers first, then this: construction resets every group's lr to `initialLr`
 * and redoes only the first scheduler's initial step, undoing what the others did.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class SequentialLR extends LRScheduler {
  private readonly schedulers: LRScheduler[];
  milestones: number[];

  constructor(optimizer: SchedulableOptimizer, options: SequentialLROptions) {
    super(optimizer, 'SequentialLR');
    const where = this.where;
    const o = checkOptionsObject(options, where);
    checkKeys(o, ['schedulers', 'milestones', 'lastEpoch'], where);
    if (!Array.isArray(o.schedulers) || o.schedulers.length === 0) {
      throw typeError('ERR_OPTION', `${where}: schedulers must be a non-empty Array of schedulers, got ${describe(o.schedulers)}`);
    }
    const schedulers = o.schedulers as unknown[];
    schedulers.forEach((s, i) => {
      // ReduceLROnPlateau needs a metric and a nested SequentialLR cannot restart at epoch 0:
      // PyTorch fails on both only when the milestone is reached.
      if (!(s instanceof LRScheduler) || s instanceof SequentialLR || s instanceof ChainedScheduler) {
        throw typeError(
          'ERR_OPTION',
          `${where}: schedulers[${i}] must be an epoch scheduler such as LinearLR (not SequentialLR, ChainedScheduler or ReduceLROnPlateau), got ${describe(s)}`,
        );
      }
      if (s.optimizer !== optimizer) {
        throw rangeError('ERR_OPTION', `${where}: schedulers[${i}] was built on a different optimizer than the one passed to SequentialLR`);
      }
    });
    if (!Array.isArray(o.milestones)) {
      throw typeError('ERR_OPTION', `${where}: milestones must be an Array of integers, got ${describe(o.milestones)}`);
    }
    const milestones = o.milestones.map((m: unknown, i) => checkNumber(m, `milestones[${i}]`, where, { integer: true, min: 1 }));
    if (milestones.length !== schedulers.length - 1) {
      throw rangeError(
        'ERR_OPTION',
        `${where}: milestones must have one entry fewer than schedulers (${schedulers.length - 1}), got ${milestones.length}`,
      );
    }
    milestones.forEach((m, i) => {
      if (i > 0 && m <= milestones[i - 1]!) {
        throw rangeError('ERR_OPTION', `${where}: milestones must be strictly increasing, got ${m} after ${milestones[i - 1]}`);
      }
    });
    const lastEpoch = readLastEpoch(o.lastEpoch, where);
    this.optimizer.paramGroups.forEach((group, i) => {
      if (typeof groupRecord(group).initialLr !== 'number') {
        throw rangeError('ERR_OPTION', `${where}: paramGroups[${i}].initialLr is missing; build the schedulers before SequentialLR`);
      }
    });

    this.schedulers = schedulers as LRScheduler[];
    this.milestones = milestones;
    this.lastEpoch = lastEpoch + 1;
    this.baseLrs = this.optimizer.paramGroups.map((group) => groupRecord(group).initialLr as number);
    for (const group of this.optimizer.paramGroups) group.lr = groupRecord(group).initialLr as number;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    this.schedulers[0]!._initialStep();
    this.lastLr = this.schedulers[0]!.getLastLr();
  }

  override step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const scheduler = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) scheduler._stepToEpoch(0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  /** @internal Not supported: PyTorch's SequentialLR takes no epoch either. */
  override _stepToEpoch(): void {
    throw typeError('ERR_OPTION', `${this.where} cannot be restarted at an epoch; it cannot be nested in another SequentialLR`);
  }

  /** The wrapped schedulers, in order. */
  getSchedulers(): readonly LRScheduler[] {
    return this.schedulers;
  }

  /** Never used: {@link step} delegates to the active scheduler. */
  protected computeLr(): number[] {
    return this.optimizer.paramGroups.map((group) => group.lr);
  }

  protected ownState(): LRSchedulerStateDict {
    return {};
  }

  /** PyTorch's layout: the wrapped schedulers' state dicts under `_schedulers`. */
  override stateDict(): LRSchedulerStateDict {
    return {
      _milestones: [...this.milestones],
      last_epoch: this.lastEpoch,
      _last_lr: [...this.lastLr],
      _schedulers: this.schedulers.map((s) => s.stateDict()),
    };
  }

  protected override readState(reader: StateReader): () => void {
    const groups = this.optimizer.paramGroups.length;
    const lastEpoch = reader.number('last_epoch', { integer: true, min: 0 });
    const lastLr = reader.numbers('_last_lr', groups);
    const rawMilestones = reader.raw('_milestones');
    let milestones: number[] | undefined;
    if (rawMilestones !== undefined) {
      if (!Array.isArray(rawMilestones) || rawMilestones.length !== this.schedulers.length - 1) {
        throw typeError('ERR_STATE_DICT', `${reader.where}: _milestones must be an Array of ${this.schedulers.length - 1} integers, got ${describe(rawMilestones)}`);
      }
      milestones = rawMilestones.map((m: unknown, i) => {
        if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || (i > 0 && m <= (rawMilestones[i - 1] as number))) {
          throw rangeError('ERR_STATE_DICT', `${reader.where}: _milestones[${i}] must be a positive integer above the previous one, got ${describe(m)}`);
        }
        return m;
      });
    }
    const rawSchedulers = reader.raw('_schedulers');
    let commits: Array<() => void> = [];
    if (rawSchedulers !== undefined) {
      if (!Array.isArray(rawSchedulers) || rawSchedulers.length !== this.schedulers.length) {
        throw typeError('ERR_STATE_DICT', `${reader.where}: _schedulers must be an Array of ${this.schedulers.length} state dicts, got ${describe(rawSchedulers)}`);
      }
      commits = this.schedulers.map((s, i) => s._prepareLoad(rawSchedulers[i], `${reader.where}: _schedulers[${i}]`));
    }
    reader.ignore('verbose', '_get_lr_called_within_step', '_is_initial');
    return () => {
      if (lastEpoch !== undefined) this.lastEpoch = lastEpoch;
      if (lastLr !== undefined) this.lastLr = lastLr;
      if (milestones !== undefined) this.milestones = milestones;
      for (const commit of commits) commit();
    };
  }
}
