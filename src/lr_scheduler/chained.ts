/** ChainedScheduler: several chainable schedulers stepped together. */
import { rangeError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { LRScheduler, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import type { StateReader } from './internal.js';

const WHERE = 'ChainedScheduler';

function checkSchedulers(schedulers: unknown): LRScheduler[] {
  if (!Array.isArray(schedulers) || schedulers.length === 0) {
    throw typeError('ERR_OPTION', `${WHERE}: schedulers must be a non-empty Array of schedulers, got ${describe(schedulers)}`);
  }
  schedulers.forEach((s: unknown, i) => {
    if (!(s instanceof LRScheduler)) {
      throw typeError('ERR_OPTION', `${WHERE}: schedulers[${i}] must be an epoch scheduler such as ExponentialLR (not ReduceLROnPlateau), got ${describe(s)}`);
    }
  });
  const list = schedulers as LRScheduler[];
  list.forEach((s, i) => {
    if (s.optimizer !== list[0]!.optimizer) {
      throw rangeError('ERR_OPTION', `${WHERE}: schedulers[${i}] was built on a different optimizer than schedulers[0]`);
    }
  });
  return [...list];
}

/**
 * Steps every scheduler of `schedulers`, in order, on each `step()` (PyTorch 1.13's
 * `ChainedScheduler`): with chainable schedulers the factors multiply, so a ConstantLR warm-up
 * chained with an ExponentialLR decays from the warm-up's lr.
 *
 * ```ts
 * const scheduler = new ChainedScheduler([new ConstantLR(opt, { factor: 0.1, totalIters: 2 }), new ExponentialLR(opt, { gamma: 0.9 })]);
 * ```
 *
 * Unlike the other schedulers it does not step at construction, keeps no epoch of its own, and
 * cannot be placed in a SequentialLR (which restarts its schedulers at an epoch).
 * @throws TypeError / RangeError (code ERR_OPTION) for an empty list, an entry that is not an
 * LRScheduler, or schedulers built on different optimizers.
 */
export class ChainedScheduler extends LRScheduler {
  private readonly schedulers: LRScheduler[];

  constructor(schedulers: readonly LRScheduler[]) {
    const list = checkSchedulers(schedulers);
    super(list[0]!.optimizer as SchedulableOptimizer, WHERE);
    this.schedulers = list;
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** Steps each scheduler in turn. */
  override step(): void {
    for (const s of this.schedulers) s.step();
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** @internal Not supported: PyTorch's ChainedScheduler takes no epoch either. */
  override _stepToEpoch(): void {
    throw typeError('ERR_OPTION', `${WHERE} cannot be restarted at an epoch; it cannot be placed in a SequentialLR`);
  }

  /** @internal Not supported, for the same reason. */
  override _initialStep(): void {
    this._stepToEpoch();
  }

  /** The chained schedulers, in order. */
  getSchedulers(): readonly LRScheduler[] {
    return this.schedulers;
  }

  /** Never used: {@link step} delegates to the chained schedulers. */
  protected computeLr(): number[] {
    return this.optimizer.paramGroups.map((group) => group.lr);
  }

  protected ownState(): LRSchedulerStateDict {
    return {};
  }

  /** PyTorch's layout: `_last_lr`, and the chained schedulers' state dicts under `_schedulers`. */
  override stateDict(): LRSchedulerStateDict {
    return { _last_lr: [...this.lastLr], _schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override readState(reader: StateReader): () => void {
    const lastLr = reader.numbers('_last_lr', this.optimizer.paramGroups.length);
    const raw = reader.raw('_schedulers');
    let commits: Array<() => void> = [];
    if (raw !== undefined) {
      if (!Array.isArray(raw) || raw.length !== this.schedulers.length) {
        throw typeError('ERR_STATE_DICT', `${reader.where}: _schedulers must be an Array of ${this.schedulers.length} state dicts, got ${describe(raw)}`);
      }
      commits = this.schedulers.map((s, i) => s._prepareLoad(raw[i], `${reader.where}: _schedulers[${i}]`));
    }
    return () => {
      if (lastLr !== undefined) this.lastLr = lastLr;
      for (const commit of commits) commit();
    };
  }
}
