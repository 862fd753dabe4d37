/** ChainedScheduler: several chainable schedulers stepped together. */
import type { LRScheduler, SchedulableOptimizer } from './base.js';
import { CompositeScheduler, checkChildSchedulers } from './composite.js';

const WHERE = 'ChainedScheduler';

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
export class ChainedScheduler extends CompositeScheduler {
  constructor(schedulers: readonly LRScheduler[]) {
    const list = checkChildSchedulers(schedulers, 'schedulers', WHERE, {
      optimizerName: 'schedulers[0]',
      composites: true,
      example: 'ExponentialLR',
    });
    super(list[0]!.optimizer as SchedulableOptimizer, WHERE);
    this.schedulers = list;
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** Steps each scheduler in turn. */
  override step(): void {
    for (const s of this.schedulers) s.step();
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }
}
