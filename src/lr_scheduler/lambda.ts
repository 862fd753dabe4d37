import { refusePytorchSpellings } from '../common/members.js';
import { rangeError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { LRScheduler, type LRSchedulerOptions, type LRSchedulerStateDict, type SchedulableOptimizer } from './base.js';
import { custom } from './hyperparameters.js';
import type { StateReader } from './internal.js';

/** Maps an epoch (0 right after construction) to a factor on the group's initial lr. */
export type LrLambda = (epoch: number) => number;

/** Options of {@link LambdaLR}. */
export interface LambdaLROptions extends LRSchedulerOptions {
  /** One function for every group, or one per group (as many as the optimizer's param
   * groups), mapping the epoch to a factor on the initial lr. Required, no default. */
  lrLambda: LrLambda | readonly LrLambda[];
}

const LAMBDA_LR = {
  /** Not saved: functions are not state (their own properties are, under `lr_lambdas`). */
  lrLambda: custom((raw, name, where, groups): LrLambda[] => {
    if (Array.isArray(raw)) {
      if (raw.length !== groups) {
        throw rangeError('ERR_OPTION', `${where}: ${name} must have one function per param group (${groups}), got an Array of length ${raw.length}`);
      }
      raw.forEach((fn: unknown, i) => {
        if (typeof fn !== 'function') throw typeError('ERR_OPTION', `${where}: ${name}[${i}] must be a function, got ${describe(fn)}`);
      });
      return [...(raw as LrLambda[])];
    }
    if (typeof raw !== 'function') {
      throw typeError('ERR_OPTION', `${where}: ${name} must be a function or an Array of ${groups} functions, got ${describe(raw)}`);
    }
    return new Array<LrLambda>(groups).fill(raw as LrLambda);
  }),
};

/**
 * Sets each group's lr to its initial lr times `lrLambda(epoch)` (PyTorch's `LambdaLR`).
 *
 * The functions are not part of the state dict. As with PyTorch's callable objects, a function
 * that carries its own enumerable properties has them saved (under `lr_lambdas`) and restored.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an optimizer without param groups, a missing
 *   required option, an unknown option (with a "did you mean" for PyTorch's snake_case names)
 *   or a value out of range. Nothing is changed then.
 */
export class LambdaLR extends LRScheduler {
  lrLambdas: LrLambda[];

  constructor(optimizer: SchedulableOptimizer, options: LambdaLROptions) {
    super(optimizer, 'LambdaLR');
    const o = this.readOptions(options, LAMBDA_LR);
    this.lrLambdas = o.lrLambda;
    this.attach(o.lastEpoch);
  }

  protected computeLr(): number[] {
    return this.baseLrs.map((base, i) => {
      const factor: unknown = this.lrLambdas[i]!(this.lastEpoch);
      // A non-number would otherwise reach Adam as a NaN (or string) lr.
      if (typeof factor !== 'number') {
        throw typeError('ERR_OPTION', `${this.where}: lrLambda${this.lrLambdas.length > 1 ? `[${i}]` : ''}(${this.lastEpoch}) must return a number, got ${describe(factor)}`);
      }
      return base * factor;
    });
  }

  protected override ownState(): LRSchedulerStateDict {
    return {
      lr_lambdas: this.lrLambdas.map((fn) => (Object.keys(fn).length > 0 ? { ...fn } : null)),
    };
  }

  protected override readState(reader: StateReader): () => void {
    const base = super.readState(reader);
    const raw = reader.raw('lr_lambdas');
    if (raw !== undefined) {
      if (!Array.isArray(raw) || raw.length !== this.lrLambdas.length) {
        throw typeError('ERR_STATE_DICT', `${reader.where}: lr_lambdas must be an Array of ${this.lrLambdas.length} entries, got ${describe(raw)}`);
      }
      raw.forEach((entry: unknown, i) => {
        if (entry !== null && (typeof entry !== 'object' || Array.isArray(entry))) {
          throw typeError('ERR_STATE_DICT', `${reader.where}: lr_lambdas[${i}] must be null or an object, got ${describe(entry)}`);
        }
      });
    }
    return () => {
      base();
      if (Array.isArray(raw)) {
        raw.forEach((entry: unknown, i) => {
          if (entry !== null) Object.assign(this.lrLambdas[i]!, entry);
        });
      }
    };
  }
}

refusePytorchSpellings(LambdaLR, ['lrLambdas']);
