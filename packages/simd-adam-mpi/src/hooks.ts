/** Step hooks of a ZeroRedundancyOptimizer. Ids count from 1,000,000, apart from the core's (from 0). */
import type { HookHandle } from 'simd-adam';
import { coded, describe } from './errors.js';

let nextHookId = 1_000_000;

export function addHook<H>(hooks: Map<number, H>, hook: H, where: string): HookHandle {
  if (typeof hook !== 'function') throw coded(new TypeError(`${where}: hook must be a function, got ${describe(hook)}`), 'ERR_HOOK');
  const id = nextHookId++;
  hooks.set(id, hook);
  return { id, remove: () => void hooks.delete(id) };
}
