/** The checks a gradient must pass before anything reads it: step(), explain(), clipGradNorm(). */
import { momentViews, type Moment } from './lowbit_state.js';
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { firstOverlap, type Span } from './overlap.js';
import type { Parameter } from '../nn/parameter.js';
import { describe, isDetached, isResizable, overlaps } from '../common/validate.js';

/** Throws (ERR_GRAD_TYPE, ERR_DETACHED, ERR_GRAD_LENGTH, ERR_RESIZABLE, ERR_GRAD_ALIAS) unless param.grad is a
 * Float32Array the parameter's length, in memory of its own. `at` names the parameter. */
export function checkGrad(param: Parameter, at: string): void {
  const grad = param.grad as unknown;
  if (!(grad instanceof Float32Array)) {
    throw typeError('ERR_GRAD_TYPE', `${at}: grad must be a Float32Array of length ${param.numel} or null, got ${describe(grad)}`);
  }
  if (param.data.length !== param.numel || isDetached(param.data)) {
    throw new SimdAdamError('ERR_DETACHED', `${at}: data has length ${param.data.length} but shape [${param.shape.join(', ')}] needs ${param.numel}: its buffer was detached (transferred?)`);
  }
  if (grad.length !== param.numel) {
    const detached = isDetached(grad);
    throw rangeError('ERR_GRAD_LENGTH', `${at}: grad must have length ${param.numel} (the parameter's), got ${describe(grad)}${detached ? ' (detached?)' : ''}`);
  }
  if (isResizable(grad)) {
    throw new SimdAdamError('ERR_RESIZABLE', `${at}: grad's buffer is resizable (or growable); a resize under a running step would leave it writing past the end, so only fixed-length buffers are accepted`);
  }
  if (overlaps(grad, param.data)) {
    throw new SimdAdamError('ERR_GRAD_ALIAS', `${at}: grad shares memory with the parameter's own data; give it a separate buffer`);
  }
}

/** The arrays a parameter's optimizer state writes on every step (Adam's names), in any format. */
export interface StateArrays {
  readonly expAvg: Moment;
  readonly expAvgSq: Moment;
  readonly maxExpAvgSq?: Moment;
}

/** A parameter the step updates, and where it sits (for messages). */
export interface Located {
  readonly param: Parameter;
  readonly group: number;
  readonly index: number;
}


/**
 * Throws ERR_GRAD_ALIAS, before anything is written, when a grad about to be read shares memory
 * with anything the step writes: the data of any parameter being updated, or any optimizer state
 * (every parameter's, since a view handed out by `opt.state.get(q)` stays live). The kernel reads
 * a grad element after writing others, so such a grad would change under its own update.
 * A grad shared by two parameters is only read, and stays legal. Each grad has already passed
 * checkGrad (which names overlap with its own parameter more plainly).
 */
export function checkGradAliases(
  where: string,
  validated: ReadonlyArray<{ readonly updates: readonly Located[] }>,
  state: ReadonlyMap<Parameter, StateArrays>,
  groups: ReadonlyArray<{ readonly params: readonly Parameter[] }>,
): void {
  // Runs on every step: only views in a buffer that some grad lives in can collide, so the usual
  // case (every grad in a buffer of its own) builds no span at all.
  const gradBuffers = new Set<ArrayBufferLike>();
  for (const { updates } of validated) for (const u of updates) gradBuffers.add(u.param.grad!.buffer);
  const writes: Array<Span<{ owner: Parameter; what: string }>> = [];
  for (const { updates } of validated) {
    for (const u of updates) {
      if (gradBuffers.has(u.param.data.buffer)) writes.push({ view: u.param.data, tag: { owner: u.param, what: 'data' } });
    }
  }
  // State made in one step (or one load) shares one buffer, so consecutive views mostly repeat
  // the buffer just found free of grads: a comparison instead of a hash lookup.
  let free: ArrayBufferLike | undefined;
  const visit = (owner: Parameter, moment: Moment | undefined, name: string): void => {
    if (!moment) return;
    for (const view of momentViews(moment)) {
      if (view.buffer === free) continue;
      if (gradBuffers.has(view.buffer)) writes.push({ view, tag: { owner, what: `optimizer state ${name}` } });
      else free = view.buffer;
    }
  };
  for (const [owner, s] of state) {
    visit(owner, s.expAvg, 'exp_avg');
    visit(owner, s.expAvgSq, 'exp_avg_sq');
    visit(owner, s.maxExpAvgSq, 'max_exp_avg_sq');
  }
  if (writes.length === 0) return;
  const reads = validated.flatMap(({ updates }) => updates.map((u) => ({ view: u.param.grad!, tag: u })));
  const hit = firstOverlap(reads, writes);
  if (!hit) return;
  const { group, index, param } = hit.read.tag;
  const other = hit.write.tag.owner;
  const whose = other === param ? 'its own' : `${locate(groups, other)}'s`;
  throw new SimdAdamError(
    'ERR_GRAD_ALIAS',
    `${where}: group ${group}, parameter ${index} (${param.label}): grad shares memory with ${whose} ${hit.write.tag.what}, ` +
      'which this step writes; nothing was changed. Give the grad a buffer of its own (copy it with .slice())',
  );
}

function locate(groups: ReadonlyArray<{ readonly params: readonly Parameter[] }>, param: Parameter): string {
  for (const [gi, g] of groups.entries()) {
    const pi = g.params.indexOf(param);
    if (pi >= 0) return `group ${gi}, parameter ${pi} (${param.label})`;
  }
  return param.label;
}
