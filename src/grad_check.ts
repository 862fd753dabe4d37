/** The checks a gradient must pass before anything reads it: step(), explain(), clipGradNorm(). */
import { rangeError, SimdAdamError, typeError } from './errors.js';
import type { Parameter } from './param.js';
import { describe, overlaps } from './validate.js';

/** Throws (ERR_GRAD_TYPE, ERR_DETACHED, ERR_GRAD_LENGTH, ERR_GRAD_ALIAS) unless param.grad is a
 * Float32Array the parameter's length, in memory of its own. `at` names the parameter. */
export function checkGrad(param: Parameter, at: string): void {
  const grad = param.grad as unknown;
  if (!(grad instanceof Float32Array)) {
    throw typeError('ERR_GRAD_TYPE', `${at}: grad must be a Float32Array of length ${param.numel} or null, got ${describe(grad)}`);
  }
  if (param.data.length !== param.numel) {
    throw new SimdAdamError('ERR_DETACHED', `${at}: data has length ${param.data.length} but shape [${param.shape.join(', ')}] needs ${param.numel}: its buffer was detached (transferred?)`);
  }
  if (grad.length !== param.numel) {
    const detached = grad.length === 0 && grad.buffer.byteLength === 0 && param.numel > 0;
    throw rangeError('ERR_GRAD_LENGTH', `${at}: grad must have length ${param.numel} (the parameter's), got ${describe(grad)}${detached ? ' (detached?)' : ''}`);
  }
  if (overlaps(grad, param.data)) {
    throw new SimdAdamError('ERR_GRAD_ALIAS', `${at}: grad shares memory with the parameter's own data; give it a separate buffer`);
  }
}
