/**
 * Optimizer steps since a scheduler last (re)started on that optimizer, as PyTorch's
 * `optimizer._step_count`, so that a scheduler can warn when its first step() comes before any
 * optimizer step. Kept beside the optimizer, not on it, so that schedulers work with any object
 * that has paramGroups; such objects are simply never warned about.
 */
const steps = new WeakMap<object, number>();
const warned = new WeakSet<object>();

/** Called by the optimizer's constructor: only registered optimizers are counted. */
export function registerOptimizer(optimizer: object): void {
  steps.set(optimizer, 0);
}

/** Called by the optimizer on each step() and stepAsync() call, before anything else runs. */
export function countOptimizerStep(optimizer: object): void {
  const n = steps.get(optimizer);
  if (n !== undefined) steps.set(optimizer, n + 1);
}

/** A scheduler's initial step: PyTorch resets the optimizer's count there. */
export function resetOptimizerSteps(optimizer: object): void {
  if (steps.has(optimizer)) steps.set(optimizer, 0);
}

/**
 * A scheduler's first step(): warns (once per optimizer, code SIMD_ADAM_SCHEDULER_ORDER) when
 * the optimizer has not stepped since the scheduler was built. An object that is not one of our
 * optimizers is never counted, so it is never warned about.
 */
export function warnIfSchedulerFirst(optimizer: object, scheduler: string): void {
  const n = steps.get(optimizer);
  if (n === undefined || n > 0 || warned.has(optimizer)) return;
  warned.add(optimizer);
  process.emitWarning(
    `${scheduler}.step() was called before optimizer.step(). Call them in the opposite order, optimizer.step() ` +
      'then scheduler.step(): otherwise the first value of the learning-rate schedule is skipped (as PyTorch warns).',
    { type: 'SimdAdamWarning', code: 'SIMD_ADAM_SCHEDULER_ORDER' },
  );
}
