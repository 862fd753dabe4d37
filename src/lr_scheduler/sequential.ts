/** SequentialLR: schedulers that take over from each other at milestones. */
import { rangeError, typeError } from '../common/errors.js';
import { checkNumber, describe } from '../common/validate.js';
import { groupRecord, type LRScheduler, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { CompositeScheduler, checkChildSchedulers } from './composite.js';
import { custom } from './hyperparameters.js';
import { bisectRight, type StateReader } from './internal.js';

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
export class SequentialLR extends CompositeScheduler {
  milestones: number[];

  constructor(optimizer: SchedulableOptimizer, options: SequentialLROptions) {
    super(optimizer, 'SequentialLR');
    const where = this.where;
    const o = this.readOptions(options, {
      schedulers: custom((value, name) =>
        checkChildSchedulers(value, name, where, {
          optimizer,
          optimizerName: 'the one passed to SequentialLR',
          composites: false,
          example: 'LinearLR',
        }),
      ),
      milestones: custom((value, name) => {
        if (!Array.isArray(value)) throw typeError('ERR_OPTION', `${where}: ${name} must be an Array of integers, got ${describe(value)}`);
        return value.map((m: unknown, i) => checkNumber(m, `${name}[${i}]`, where, { integer: true, min: 1 }));
      }),
    });
    const { schedulers, milestones } = o;
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
    this.optimizer.paramGroups.forEach((group, i) => {
      if (typeof groupRecord(group).initialLr !== 'number') {
        throw rangeError('ERR_OPTION', `${where}: paramGroups[${i}].initialLr is missing; build the schedulers before SequentialLR`);
      }
    });

    this.schedulers = schedulers;
    this.milestones = milestones;
    this.lastEpoch = o.lastEpoch + 1;
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

  protected override ownState(): LRSchedulerStateDict {
    return { _milestones: [...this.milestones], last_epoch: this.lastEpoch };
  }

  protected override readState(reader: StateReader): () => void {
    const children = super.readState(reader);
    const lastEpoch = reader.number('last_epoch', { integer: true, min: 0 });
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
    reader.ignore('verbose', '_get_lr_called_within_step', '_is_initial');
    return () => {
      children();
      if (lastEpoch !== undefined) this.lastEpoch = lastEpoch;
      if (milestones !== undefined) this.milestones = milestones;
    };
  }
}
