/** The options of ZeroRedundancyOptimizer: its own three, then the core optimizer's (nonFinite
 * and warnOnZeroGrad included). */
import { Adam, AdamW, type AdamOptions, type AdamWOptions, type OptimizerOptions } from 'simd-adam';
import { Communicator } from './communicator.js';
import { coded, describe } from './errors.js';

/** `new ZeroRedundancyOptimizer(params, options)`. */
export type ZeroRedundancyOptions = (AdamOptions | AdamWOptions) &
  Pick<OptimizerOptions, 'warnOnZeroGrad' | 'nonFinite'> & {
    /** Which core optimizer steps the shards. Required. */
    optimizer: 'Adam' | 'AdamW';
    /** The world, from `await mpiWorld()`. Required. */
    comm: Communicator;
    /** Clip the mean gradient to this global 2-norm before each step (PyTorch's
     * clip_grad_norm_ with max_norm, norm_type 2): one more scalar all-reduce per step. A finite
     * number > 0; default none. */
    maxGradNorm?: number;
  };

export function checkZeroOptions(options: unknown, where: string) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw coded(new TypeError(`${where}: options must be an object { optimizer: 'Adam' | 'AdamW', comm, ... }, got ${describe(options)}`), 'ERR_OPTION');
  }
  const { optimizer, comm, maxGradNorm, ...coreOptions } = options as Record<string, unknown>;
  if (optimizer !== 'Adam' && optimizer !== 'AdamW') {
    const error = typeof optimizer === 'string' ? RangeError : TypeError;
    throw coded(new error(`${where}: optimizer must be 'Adam' or 'AdamW', got ${describe(optimizer)}`), 'ERR_OPTION');
  }
  if (!(comm instanceof Communicator)) {
    throw coded(new TypeError(`${where}: comm must be the Communicator from await mpiWorld(), got ${describe(comm)}`), 'ERR_OPTION');
  }
  if (maxGradNorm !== undefined && (typeof maxGradNorm !== 'number' || !(maxGradNorm > 0) || !Number.isFinite(maxGradNorm))) {
    const error = typeof maxGradNorm === 'number' ? RangeError : TypeError;
    throw coded(new error(`${where}: maxGradNorm must be a finite number > 0, got ${describe(maxGradNorm)}`), 'ERR_OPTION');
  }
  return { Ctor: optimizer === 'Adam' ? Adam : AdamW, optimizer: optimizer as 'Adam' | 'AdamW', comm, maxGradNorm: maxGradNorm as number | undefined, coreOptions };
}
