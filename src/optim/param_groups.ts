/** Turning the constructor's and addParamGroup's `params` into validated lists of Parameters;
 * the PyTorch spellings of hyperparameter keys on a live group; the closure step() may get. */
import { SimdAdamError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { firstSelfOverlap } from '../engine/overlap.js';
import { Parameter } from '../nn/parameter.js';
import { toCamelCase } from './state_dict.js';

/** A group's `params`: a non-empty iterable of Parameters. */
export function toParameterList(value: unknown, where: string): Parameter[] {
  if (value instanceof Parameter) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters, got a single Parameter (wrap it in an array)`);
  }
  if (value === null || typeof value !== 'object' || !(Symbol.iterator in value)) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters, got ${describe(value)}`);
  }
  const list = [...(value as Iterable<unknown>)];
  if (list.length === 0) throw new SimdAdamError('ERR_EMPTY_PARAMS', `${where}: got an empty parameter list`);
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) {
      throw typeError('ERR_PARAM_TYPE', `${where}: params[${i}] must be a Parameter, got ${describe(p)}`);
    }
  });
  return list as Parameter[];
}

/** Advice for PyTorch's device options, which are keys simd-adam's optimizers do not take:
 * a plain "unknown option" would leave a PyTorch user guessing whether something is missing. */
export const PYTORCH_DEVICE_OPTION_HINTS: Readonly<Record<string, string>> = Object.freeze({
  foreach: deviceOption('foreach', 'simd-adam always updates all parameters in one native call'),
  fused: deviceOption('fused', 'simd-adam always runs its fused CPU kernel'),
  capturable: deviceOption('capturable', 'there are no CUDA graphs to capture'),
  differentiable: deviceOption('differentiable', 'the update is never part of an autograd graph'),
});

function deviceOption(key: string, why: string): string {
  return `'${key}' is a PyTorch device option with no meaning here (${why}): drop it`;
}

/** Parameters → one group spec; group specs → themselves. Mixing the two is an error. */
export function normalizeParams(params: unknown, where: string): Record<string, unknown>[] {
  if (params instanceof Parameter) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters or param groups, got a single Parameter (wrap it in an array)`);
  }
  if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters or param groups, got ${describe(params)}`);
  }
  const list = [...(params as Iterable<unknown>)];
  if (list.length === 0) throw new SimdAdamError('ERR_EMPTY_PARAMS', `${where}: got an empty parameter list`);
  if (list.every((p) => p instanceof Parameter)) return [{ params: list }];
  // A typed array where a Parameter belongs is a raw buffer, not a group: the same error as for
  // one inside a group's params.
  const raw = list.findIndex((p) => ArrayBuffer.isView(p));
  if (raw >= 0) {
    const got = list[raw];
    throw typeError(
      'ERR_PARAM_TYPE',
      `${where}: params[${raw}] must be a Parameter or a param group, got ${describe(got)}` +
        (got instanceof Float32Array ? ' (wrap it: new Parameter(array))' : ''),
    );
  }
  return list.map((spec, i) => {
    if (spec === null || typeof spec !== 'object' || spec instanceof Parameter || Array.isArray(spec) || !('params' in spec)) {
      throw typeError(
        'ERR_PARAM_GROUP',
        `${where}: params[${i}] must be a param group { params, ...options } (do not mix Parameters and groups), got ${describe(spec)}`,
      );
    }
    return spec as Record<string, unknown>;
  });
}

/** Throws ERR_PARAM_ALIAS when two parameters' data share memory. Each is updated in place, by
 * threads that split the work at cache lines of each: overlapping updates would race, and a
 * frozen parameter overlapping a trained one would move. Tied weights are one Parameter. */
export function checkParamOverlap(groups: ReadonlyArray<{ readonly params: readonly Parameter[] }>, where: string): void {
  const spans = groups.flatMap((g, gi) => g.params.map((param, pi) => ({ view: param.data, tag: `group ${gi}, parameter ${pi} (${param.label})` })));
  const hit = firstSelfOverlap(spans);
  if (!hit) return;
  throw new SimdAdamError(
    'ERR_PARAM_ALIAS',
    `${where}: ${hit.b.tag} shares memory with ${hit.a.tag}; parameters must not overlap, since updating both in place would ` +
      'race between threads (for tied weights, pass the one Parameter once)',
  );
}

/**
 * Refuses a key on a live group that is PyTorch's spelling of one of the optimizer's
 * hyperparameters (`weight_decay` for `weightDecay`): step() reads only the camelCase key, so the
 * assignment would silently change nothing. Throws a TypeError (code ERR_OPTION).
 */
export function checkGroupSpellings(group: object, keys: readonly string[], where: string): void {
  for (const key of Object.keys(group)) {
    if (!key.includes('_')) continue;
    const camel = toCamelCase(key);
    if (camel !== key && keys.includes(camel)) {
      throw typeError(
        'ERR_OPTION',
        `${where}: '${key}' is PyTorch's spelling (did you mean ${camel}?); step() reads ${camel}, so '${key}' would be ` +
          `ignored and written into stateDict() as the real value. Set ${camel} and delete '${key}'`,
      );
    }
  }
}

/** step(closure) got a promise back: an async closure, whose grads (set after its first await)
 * the step would miss, training on the old ones without a word. */
export function refuseAsyncClosure(loss: unknown, where: string): void {
  if ((typeof loss === 'object' || typeof loss === 'function') && loss !== null && typeof (loss as { then?: unknown }).then === 'function') {
    throw typeError(
      'ERR_OPTION',
      `${where}: the closure returned a promise, and step() does not wait: grads it sets after an await would be missed. ` +
        'Use await opt.stepAsync(closure), which awaits the closure before the update (nothing was updated)',
    );
  }
}

/** step(closure): the closure is optional, but if given it must be a function. */
export function checkClosure(closure: unknown, where: string): void {
  if (closure !== undefined && typeof closure !== 'function') {
    throw typeError('ERR_OPTION', `${where}: closure must be a function that re-evaluates the model and returns the loss, got ${describe(closure)}`);
  }
}
