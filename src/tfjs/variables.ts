/**
 * The variables a tfjs optimizer has stepped, each bound to a simd-adam Parameter over its
 * storage, and the Executor that steps them. A step:
 *
 *   1. owns: gives each variable storage no other tensor shares (copy once, when shared);
 *   2. binds: reuses the variable's Parameter while its storage is unchanged, else makes one;
 *   3. steps: one simd-adam step over exactly this step's variables, state adopted as needed;
 *   4. copy path only: writes the values back as a new tensor.
 *
 * Step 1 may allocate tensors, and on wasm an allocation may grow the heap and detach every
 * view taken before: all views are taken after it.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { Parameter, SimdAdamError, type AdamOptions, type AdamStateFloat32 } from '../index.js';
import { ownerOf, refCount, replaceData, stillViews, viewOf, written, type Io, type Owner } from './backend_io.js';
import { Executor, type SavedState } from './executor.js';
import type { Hyperparameters } from './options.js';
import type { NamedState } from './weights.js';

/** A trainable variable and its gradient for this step, both validated. */
export interface Update {
  variable: tf.Variable;
  grad: tf.Tensor;
}

interface Slot {
  variable: tf.Variable;
  /** The Parameter over the variable's values (a private array on the copy path). */
  param: Parameter | undefined;
  io: Io | undefined;
  /** Copy path: the data id whose values param.data holds. */
  synced: object | undefined;
  /** The executor keeps float32 state (its groups never set stateDtype). */
  state: AdamStateFloat32 | undefined;
  /** From setWeights(), moved into simd-adam's storage at the variable's next step. */
  loaded: SavedState | undefined;
}

export class VariableTable {
  readonly #slots = new Map<string, Slot>();
  #executor: Executor | undefined;
  /** setWeights() states, matched to the next step's variables by matchLoaded(). */
  #pending: NamedState[] | undefined;
  /** cpu arrays this table allocated: no tensor but their variable holds them. */
  readonly #owned = new WeakSet<Float32Array>();

  /**
   * One step. `listed` is every variable the caller named, in order (for positional loading);
   * `updates` those that move. Validates before changing anything.
   * @throws SimdAdamError (code ERR_STATE_DICT) when loaded state does not fit by position.
   */
  step(listed: readonly tf.Variable[], updates: readonly Update[], hyper: Hyperparameters, core: AdamOptions, where: string): void {
    const matched = this.#pending ? matchLoaded(this.#pending, listed, where) : [];
    matched.forEach(([v, s]) => (this.#slotFor(v).loaded = s));
    this.#pending = undefined;
    this.#dropDisposed();
    // Nothing moves (every gradient null, every variable frozen): a simd-adam optimizer needs at
    // least one parameter, and skipping all of them is what step() does with grad = null.
    if (updates.length === 0) return;
    const slots = updates.map((u) => this.#slotFor(u.variable));
    const owners = slots.map((s) => this.#own(s));
    const params = slots.map((s, i) => this.#bind(s, owners[i]!));
    const executor = this.#executorFor(slots, params, core);
    const cpuArrays = new Set(params.filter((_, i) => owners[i]!.io === 'cpu').map((p) => p.data.buffer));
    try {
      params.forEach((p, i) => (p.grad = gradValues(updates[i]!.grad, cpuArrays)));
      executor.setHyper(hyper);
      executor.step();
    } finally {
      // Grad views are tfjs's memory, freed after this call: no Parameter may keep one.
      for (const p of params) p.grad = null;
    }
    slots.forEach((s, i) => {
      s.state ??= executor.state.get(params[i]!) as AdamStateFloat32 | undefined;
      written(s.variable, owners[i]!);
      if (owners[i]!.io === 'copy') {
        replaceData(s.variable, s.param!.data.slice(), owners[i]!);
        s.synced = s.variable.dataId;
      }
    });
  }

  /** Every variable's state, in the order variables were first stepped (or loaded). */
  states(): NamedState[] {
    this.#dropDisposed();
    const out: NamedState[] = [];
    for (const [name, s] of this.#slots) {
      const shape = s.variable.shape;
      if (s.loaded) out.push({ name, shape, ...s.loaded });
      else if (s.state) out.push({ name, shape, step: s.state.step, m: s.state.expAvg, v: s.state.expAvgSq, ...(s.state.maxExpAvgSq ? { vhat: s.state.maxExpAvgSq } : {}) });
    }
    return [...out, ...(this.#pending ?? [])];
  }

  /** Replaces all state; the states attach to variables at the next step (see matchLoaded). */
  load(states: NamedState[]): void {
    this.clear();
    this.#pending = states;
  }

  /** Forgets every variable and its state. */
  clear(): void {
    this.#slots.clear();
    this.#executor = undefined;
    this.#pending = undefined;
  }

  #slotFor(variable: tf.Variable): Slot {
    let slot = this.#slots.get(variable.name);
    if (slot?.variable !== variable) {
      // A new variable under a disposed one's name starts afresh.
      if (slot) this.#slots.delete(variable.name);
      slot = { variable, param: undefined, io: undefined, synced: undefined, state: undefined, loaded: undefined };
      this.#slots.set(variable.name, slot);
    }
    return slot;
  }

  /** State of disposed variables would keep their storage alive. */
  #dropDisposed(): void {
    for (const [name, s] of this.#slots) if (s.variable.isDisposed) this.#slots.delete(name);
  }

  /** Makes the variable's storage its own where we write in place: on cpu an array we
   * allocated, on both cpu and wasm a data id no other tensor shares (a clone, a tensor passed
   * to assign() and still held). Copies once when it is not; the other holders keep the old. */
  #own(slot: Slot): Owner {
    const v = slot.variable;
    const owner = ownerOf(v);
    if (owner.io === 'copy') return owner;
    const view = viewOf(v, owner);
    if (view === null) return { backend: owner.backend, io: 'copy' };
    if (refCount(v, owner) === 1 && (owner.io === 'wasm' || this.#owned.has(view))) return owner;
    replaceData(v, view.slice(), owner);
    const now = ownerOf(v);
    const mine = viewOf(v, now);
    if (mine === null) return { backend: now.backend, io: 'copy' };
    if (now.io === 'cpu') this.#owned.add(mine);
    return now;
  }

  #bind(slot: Slot, owner: Owner): Parameter {
    const v = slot.variable;
    if (owner.io !== 'copy') {
      if (slot.io === owner.io && slot.param && stillViews(slot.param.data, v, owner)) return slot.param;
      return this.#rebind(slot, owner.io, viewOf(v, owner)!);
    }
    const param = slot.io === 'copy' && slot.param ? slot.param : this.#rebind(slot, 'copy', new Float32Array(v.size));
    if (slot.synced !== v.dataId) {
      param.data.set(v.dataSync() as Float32Array);
      slot.synced = v.dataId;
    }
    return param;
  }

  #rebind(slot: Slot, io: Io, data: Float32Array): Parameter {
    slot.param = new Parameter(data, { name: slot.variable.name, shape: slot.variable.shape });
    slot.io = io;
    slot.synced = undefined;
    return slot.param;
  }

  /** The executor for exactly these parameters: the last one if it steps the same set, else a
   * new one, its first group the parameters with state (adopted), its second the newcomers (so
   * that simd-adam sizes the newcomers' state storage for them alone). */
  #executorFor(slots: readonly Slot[], params: readonly Parameter[], core: AdamOptions): Executor {
    const loading = slots.filter((s) => s.loaded);
    if (loading.length > 0) {
      const states = Executor.loadStates(loading.map((s) => s.param!), loading.map((s) => s.loaded!), core);
      loading.forEach((s, i) => {
        s.state = states[i] as AdamStateFloat32 | undefined;
        s.loaded = undefined;
      });
    }
    const current = this.#executor;
    if (current?.covers(params)) {
      for (const s of loading) current.adopt(s.param!, s.state!);
      return current;
    }
    const known = slots.flatMap((s, i) => (s.state ? [params[i]!] : []));
    const fresh = slots.flatMap((s, i) => (s.state ? [] : [params[i]!]));
    const executor = new Executor([known, fresh], core);
    slots.forEach((s, i) => s.state && executor.adopt(params[i]!, s.state));
    this.#executor = executor;
    return executor;
  }
}

/** A gradient's values. On cpu a gradient can be a view into a variable's array (cpu slices
 * are views), which the step overwrites: such a gradient is copied first. */
function gradValues(grad: tf.Tensor, cpuArrays: ReadonlySet<ArrayBufferLike>): Float32Array {
  const owner = ownerOf(grad);
  const view = viewOf(grad, owner);
  if (view === null) return grad.dataSync() as Float32Array;
  return owner.io === 'cpu' && cpuArrays.has(view.buffer) ? view.slice() : view;
}

/** Loaded states against the variables a step lists: by name when every state names one of
 * them, else position by position as tf.train.adam does (a model loaded in the same process
 * as the one saved has new variable names). Sizes are checked either way. */
function matchLoaded(states: readonly NamedState[], listed: readonly tf.Variable[], where: string): Array<[tf.Variable, SavedState]> {
  const byName = new Map(listed.map((v) => [v.name, v]));
  const named = states.every((s) => byName.has(s.name));
  if (!named && states.length !== listed.length) {
    throw new SimdAdamError(
      'ERR_STATE_DICT',
      `${where}: setWeights() loaded state for ${states.length} variables; their names are not all in this step, so they are matched by position, ` +
        `but this step lists ${listed.length} variables`,
    );
  }
  return states.map(({ name, shape: _shape, ...saved }, i) => {
    const v = named ? byName.get(name)! : listed[i]!;
    if (v.size !== saved.m.length) {
      throw new SimdAdamError('ERR_STATE_DICT', `${where}: loaded state '${name}' has ${saved.m.length} elements but variable '${v.name}' has ${v.size}`);
    }
    return [v, saved];
  });
}
