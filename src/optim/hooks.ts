/**
 * Hook registries with PyTorch's semantics (torch/optim/optimizer.py, 2.x): hooks run in
 * registration order, `prepend` puts one first, and each registration returns a handle whose
 * remove() unregisters it. A hook list is copied before it runs, so a hook that removes itself
 * or registers another does not disturb the current run.
 */
import { typeError } from '../common/errors.js';
import { checkBoolean, checkKeys, checkOptionsObject, describe } from '../common/validate.js';

/** What every register*Hook returns, like PyTorch's RemovableHandle. */
export interface HookHandle {
  /** Unique among the handles of this process. */
  readonly id: number;
  /** Unregisters the hook. Calling it again does nothing. */
  remove(): void;
}

/** Options of the state-dict hook registrations ({@link Optimizer.registerStateDictPreHook} and
 * the like). */
export interface RegisterHookOptions {
  /** Default false. When true, run this hook before those already registered (PyTorch's
   * `prepend=True`). A non-boolean is a TypeError, `ERR_OPTION`. */
  prepend?: boolean;
}

let nextId = 0;

/** An ordered set of hooks.
 * @internal */
export class HookList<F extends (...args: never[]) => unknown> {
  readonly #hooks = new Map<number, F>();
  readonly #kind: string;

  constructor(kind: string) {
    this.#kind = kind;
  }

  /** `options` only where PyTorch's register function takes `prepend`. */
  add(hook: F, options?: RegisterHookOptions): HookHandle {
    const where = `register${this.#kind}()`;
    if (typeof hook !== 'function') throw typeError('ERR_HOOK', `${where}: hook must be a function, got ${describe(hook)}`);
    const opts = checkOptionsObject(options, where);
    checkKeys(opts, ['prepend'], where);
    const prepend = opts.prepend === undefined ? false : checkBoolean(opts.prepend, 'prepend', where);
    const id = nextId++;
    if (prepend) {
      const rest = [...this.#hooks];
      this.#hooks.clear();
      this.#hooks.set(id, hook);
      for (const [k, f] of rest) this.#hooks.set(k, f);
    } else {
      this.#hooks.set(id, hook);
    }
    const hooks = this.#hooks;
    return Object.freeze({ id, remove: () => void hooks.delete(id) });
  }

  /** The hooks in calling order, as they are now. */
  list(): F[] {
    return [...this.#hooks.values()];
  }
}

/** A hook run before step(). PyTorch's pre hook may return `(new_args, new_kwargs)` to replace
 * step's arguments; step() here takes none, so there is nothing to replace and the return
 * value is ignored. */
export type StepPreHook<O> = (optimizer: O) => void;
/** A hook run after step() returned normally (a step skipped by nonFinite: 'skip' included; not
 * one that threw). */
export type StepPostHook<O> = (optimizer: O) => void;
/** Run by stateDict() before it builds the state dict. */
export type StateDictPreHook<O> = (optimizer: O) => void;
/** Run by stateDict() on the built state dict: a returned object replaces it (undefined keeps it). */
export type StateDictPostHook<O, D extends object = Record<string, unknown>> = (optimizer: O, stateDict: D) => D | void;
/** Run by loadStateDict() before anything is validated or loaded: a returned object replaces the
 * state dict to load (undefined keeps it). */
export type LoadStateDictPreHook<O, D extends object = Record<string, unknown>> = (optimizer: O, stateDict: D) => D | void;
/** Run by loadStateDict() after the state dict was loaded. */
export type LoadStateDictPostHook<O> = (optimizer: O) => void;

/** A state dict returned by a hook must be an object; undefined means "keep the one given". */
export function hookResult<D extends object>(result: unknown, current: D, kind: string): D {
  if (result === undefined) return current;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw typeError('ERR_HOOK', `a ${kind} hook must return a state dict object or undefined, got ${describe(result)}`);
  }
  return result as D;
}
