/** What ChainedScheduler and SequentialLR share: they hold child schedulers, compute no lr of
 * their own, cannot be restarted at an epoch, and save their children's state dicts under
 * `_schedulers`. PyTorch writes them as two unrelated classes. */
import { rangeError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { LRScheduler, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import type { StateReader } from './internal.js';

/** Which child schedulers a composite accepts, for {@link checkChildSchedulers}. */
export interface ChildRule {
  /** The optimizer every child must be built on (default: the first child's), and how to name
   * it in the error. */
  optimizer?: SchedulableOptimizer;
  optimizerName: string;
  /** Whether a ChainedScheduler or SequentialLR may be a child. */
  composites: boolean;
  /** A scheduler to name in the message, as an example of what fits. */
  example: string;
}

/** Checks a composite's `schedulers` option: a non-empty Array of epoch schedulers, all on the
 * same optimizer. Returns a copy.
 * @throws TypeError / RangeError `ERR_OPTION` naming the offending entry. */
export function checkChildSchedulers(value: unknown, name: string, where: string, rule: ChildRule): LRScheduler[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw typeError('ERR_OPTION', `${where}: ${name} must be a non-empty Array of schedulers, got ${describe(value)}`);
  }
  const excluded = rule.composites ? 'ReduceLROnPlateau' : 'SequentialLR, ChainedScheduler or ReduceLROnPlateau';
  value.forEach((s: unknown, i) => {
    // ReduceLROnPlateau needs a metric; a nested SequentialLR cannot restart at epoch 0 (PyTorch
    // fails on both only when the milestone is reached).
    if (!(s instanceof LRScheduler) || (!rule.composites && s instanceof CompositeScheduler)) {
      throw typeError('ERR_OPTION', `${where}: ${name}[${i}] must be an epoch scheduler such as ${rule.example} (not ${excluded}), got ${describe(s)}`);
    }
    if (s.optimizer !== (rule.optimizer ?? (value[0] as LRScheduler).optimizer)) {
      throw rangeError('ERR_OPTION', `${where}: ${name}[${i}] was built on a different optimizer than ${rule.optimizerName}`);
    }
  });
  return [...(value as LRScheduler[])];
}

/** The base of ChainedScheduler and SequentialLR.
 * @internal */
export abstract class CompositeScheduler extends LRScheduler {
  /** Set by the subclass once its options are checked. */
  protected schedulers: readonly LRScheduler[] = [];

  /** The child schedulers, in order. */
  getSchedulers(): readonly LRScheduler[] {
    return this.schedulers;
  }

  /** @internal Not supported: PyTorch's composites take no epoch either. */
  override _stepToEpoch(): void {
    throw typeError('ERR_OPTION', `${this.where} cannot be restarted at an epoch, so it cannot be placed in a SequentialLR`);
  }

  /** @internal Not supported, for the same reason. */
  override _initialStep(): void {
    this._stepToEpoch();
  }

  /** Never used: `step()` delegates to the children. */
  protected computeLr(): number[] {
    return this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** PyTorch's layout: the composite's own keys, `_last_lr`, and the children's state dicts under
   * `_schedulers`. */
  override stateDict(): LRSchedulerStateDict {
    return { ...this.ownState(), _last_lr: [...this.lastLr], _schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  /** Reads `_last_lr` and `_schedulers`, validating every child's state before any changes. */
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
