/**
 * Where Adam's state lives. A group's state is one arena: a buffer with an exp_avg region, an
 * exp_avg_sq region and (amsgrad) a max_exp_avg_sq region, each holding every parameter of the
 * group in group order. Each parameter's state starts at the same address modulo 64 as its data
 * (padding up to 15 floats when needed), so threads that split a step at cache lines of the
 * parameters split the state at cache lines too. Parameters that are contiguous in memory (a
 * ParameterStore) need no padding: their state is contiguous too, and they step as one segment.
 *
 * SegmentViews never move: the arena is reserved whole when the group first needs state, and each slot
 * is committed to its parameter at most once (handed out again only while no step has used it). A parameter whose slot is gone (its state was replaced by
 * loadStateDict, say) or that joined later gets state from allocateState, in one buffer with the
 * others that start in the same step.
 */
import type { AdamState } from './adam_state.js';
import { addon } from '../native/addon.js';
import type { Parameter } from '../nn/parameter.js';
import { bufferHandle } from './segment_table.js';
import { allocateMoments, type StateDtype } from './lowbit_state.js';
import { countedState, StepCounts } from './step_counts.js';

const LINE_FLOATS = 16;
const BYTES = Float32Array.BYTES_PER_ELEMENT;

function makeState(buffer: ArrayBuffer, regionStarts: readonly number[], offset: number, numel: number, counts: StepCounts, index: number): AdamState {
  const views = regionStarts.map((start) => new Float32Array(buffer, (start + offset) * BYTES, numel));
  return countedState(counts, index, views);
}

/** A float's position within its cache line, 0 to 15. */
function lineOffset(view: Float32Array): number {
  return ((addon.alignment(bufferHandle(view.buffer)) + view.byteOffset) / BYTES) % LINE_FLOATS;
}

/** Each parameter's offset in a region whose start is 64-byte aligned, padded so that it shares
 * its data's position within a cache line, and the floats a region needs. */
function slots(params: readonly Parameter[]): { offsets: number[]; total: number } {
  let total = 0;
  const offsets = params.map((p) => {
    total += (lineOffset(p.data) - (total % LINE_FLOATS) + LINE_FLOATS) % LINE_FLOATS;
    const at = total;
    total += p.numel;
    return at;
  });
  return { offsets, total };
}

/** One buffer, regions of `total` floats each starting on a 64-byte boundary of memory. */
function regions(total: number, amsgrad: boolean): { buffer: ArrayBuffer; starts: number[] } {
  const count = amsgrad ? 3 : 2;
  const stride = Math.ceil(total / LINE_FLOATS) * LINE_FLOATS;
  const buffer = new ArrayBuffer((stride * count + LINE_FLOATS) * BYTES);
  const misaligned = addon.alignment(buffer) / BYTES;
  const first = (LINE_FLOATS - misaligned) % LINE_FLOATS;
  return { buffer, starts: Array.from({ length: count }, (_, r) => first + r * stride) };
}

/** Fresh state (step 0, zeroed moments) for `params`, in one buffer. The helper for everything
 * that creates state: a step's newcomers, a loaded state dict. */
export function allocateState(params: readonly Parameter[], amsgrad: boolean): AdamState[] {
  if (params.length === 0) return [];
  const { offsets, total } = slots(params);
  const { buffer, starts } = regions(total, amsgrad);
  const counts = new StepCounts(params.length);
  return params.map((p, i) => makeState(buffer, starts, offsets[i]!, p.numel, counts, i));
}

/** A group's reserved state storage. */
class Arena {
  readonly amsgrad: boolean;
  readonly #buffer: ArrayBuffer;
  readonly #starts: number[];
  /** Per parameter: its offset in each region, and its index in #counts. */
  readonly #slots = new Map<Parameter, { offset: number; index: number }>();
  readonly #counts: StepCounts;

  constructor(params: readonly Parameter[], amsgrad: boolean) {
    this.amsgrad = amsgrad;
    const unique = [...new Set(params)];
    const { offsets, total } = slots(unique);
    unique.forEach((p, i) => this.#slots.set(p, { offset: offsets[i]!, index: i }));
    this.#counts = new StepCounts(unique.length);
    ({ buffer: this.#buffer, starts: this.#starts } = regions(total, amsgrad));
  }

  /** State over the parameter's slot, or undefined if it has none or its state was committed.
   * The slot stays available until commit(): a step the non-finite guard refused wrote nothing
   * into it, and the next plan built must find it again rather than allocate a second copy. */
  take(param: Parameter): AdamState | undefined {
    const slot = this.#slots.get(param);
    if (slot === undefined) return undefined;
    return makeState(this.#buffer, this.#starts, slot.offset, param.numel, this.#counts, slot.index);
  }

  /** The slot is the parameter's for good (its step ran and its state was registered). */
  commit(param: Parameter): void {
    this.#slots.delete(param);
  }
}

/** An optimizer's arenas, one per param group. */
export class StateArenas {
  readonly #byGroup = new WeakMap<object, Arena>();
  /** States handed out over an arena's slot, not yet committed. */
  readonly #pending = new WeakMap<AdamState, Arena>();

  /** Call when `state` (from allocate) is registered: its slot is never handed out again. */
  commit(param: Parameter, state: AdamState): void {
    this.#pending.get(state)?.commit(param);
    this.#pending.delete(state);
  }

  /** State for parameters of `group` that get their first gradient now, each stored as
   * `dtypeOf` says: float32 state from the group's arena (which reserves only parameters stored
   * in float32), reduced state in one fresh buffer per format (src/engine/lowbit_state.ts). */
  allocate(
    group: { readonly params: readonly Parameter[] },
    params: readonly Parameter[],
    amsgrad: boolean,
    dtypeOf: (p: Parameter) => StateDtype = () => 'float32',
  ): AdamState[] {
    if (params.length === 0) return [];
    const out: Array<AdamState | undefined> = new Array(params.length);
    for (const dtype of ['bfloat16', '8bit'] as const) {
      const at = params.flatMap((p, i) => (dtypeOf(p) === dtype ? [i] : []));
      allocateLowbitState(at.map((i) => params[i]!), amsgrad, dtype).forEach((s, k) => (out[at[k]!] = s));
    }
    const float32 = params.flatMap((p, i) => (out[i] === undefined ? [i] : []));
    if (float32.length === 0) return out as AdamState[];
    let arena = this.#byGroup.get(group);
    if (!arena) {
      arena = new Arena(group.params.filter((p) => p.requiresGrad && dtypeOf(p) === 'float32'), amsgrad);
      this.#byGroup.set(group, arena);
    }
    for (const i of float32) out[i] = arena.amsgrad === amsgrad ? arena.take(params[i]!) : undefined;
    for (const state of out) if (state) this.#pending.set(state, arena);
    const rest = float32.filter((i) => out[i] === undefined);
    allocateState(rest.map((i) => params[i]!), amsgrad).forEach((s, k) => (out[rest[k]!] = s));
    return out as AdamState[];
  }
}

/** Fresh reduced-precision states for `params` (src/engine/lowbit_state.ts), with their step
 * counts in one batch. */
export function allocateLowbitState(params: readonly Parameter[], amsgrad: boolean, dtype: Exclude<StateDtype, 'float32'>): AdamState[] {
  if (params.length === 0) return [];
  const counts = new StepCounts(params.length);
  return allocateMoments(params, amsgrad, dtype).map((v, i) => countedState(counts, i, v.views, v.dtype));
}
