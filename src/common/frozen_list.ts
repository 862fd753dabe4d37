/**
 * Frozen arrays that the optimizer hands out (paramGroups, a group's params) and that a PyTorch
 * user reaches into by habit: `param_groups.append(group)` becomes `paramGroups.push(group)`. On
 * a plain frozen array that fails with V8's "object is not extensible", which names neither the
 * array nor what to do; here each mutating method throws a coded TypeError that does.
 */
import { typeError, type ErrorCode } from './errors.js';

const MUTATORS = ['push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill', 'copyWithin'] as const;

/** `items`, frozen, whose mutating methods throw TypeError `code`: "`name` cannot be changed in
 * place (method()): `instead`". The methods are own, non-enumerable properties, so iteration,
 * spreading and JSON see a plain array. */
export function frozenList<T>(items: T[], name: string, code: ErrorCode, instead: string): readonly T[] {
  for (const method of MUTATORS) {
    Object.defineProperty(items, method, {
      value: () => {
        throw typeError(code, `${name} cannot be changed in place (${method}()): ${instead}`);
      },
    });
  }
  return Object.freeze(items);
}

/** An optimizer's paramGroups. */
export function groupList<G>(algorithm: string, groups: G[]): readonly G[] {
  return frozenList(groups, `${algorithm}.paramGroups`, 'ERR_PARAM_GROUP', 'add a group with addParamGroup()');
}
