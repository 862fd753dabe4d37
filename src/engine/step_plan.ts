/**
 * A step of Adam over all groups as one cached plan: the parameters that have a grad, their
 * state, coalesced into kernel segments, prepared natively once. While nothing that shapes it
 * changes (which grads are set and to which arrays, requiresGrad, the state objects, amsgrad),
 * a step checks it (reading the parameters only if some grad or requiresGrad was assigned since,
 * and every buffer's byteLength), writes one row of scalars per (group, step)
 * and crosses into native code once.
 */
import type { AdamState } from './adam_state.js';
import { isJsBackend } from '../native/backend.js';
import { addon, type NativePlan, type Stop } from '../native/addon.js';
import { parameterAssignments, type Parameter } from '../nn/parameter.js';
import {
  completeZeroReport,
  reducedExpAvgZero,
  guardArguments,
  guardOutcome,
  prePassReference,
  CLEAN_OUTCOME,
  stepReference,
  TableWriter,
  writeScalars,
  type PrePass,
  type Segment,
  type StepOutcome,
} from './segment_table.js';
import type { Moment } from './lowbit_state.js';
import { Q8_BLOCK } from '../reference/adam_lowbit.js';

export type { PrePass, StepOutcome } from './segment_table.js';

import { adamScalars, type AdamHyper } from '../reference/adam.js';
import { stepSlot, type StepCounts } from './step_counts.js';
import { claim, momentAccess, whileClaimed, type Access } from './claims.js';

/** A parameter about to be updated, where it sits, and its state if it has any yet. */
export interface ParamUpdate {
  param: Parameter;
  group: number;
  index: number;
  state: AdamState | undefined;
}

/** A group as validated for this step. */
export interface GroupUpdates {
  hyper: AdamHyper;
  updates: ParamUpdate[];
}

/** Creates state for a group's newcomers (see state_arena.ts). */
export type StateAllocator = (groupIndex: number, params: readonly Parameter[], amsgrad: boolean) => AdamState[];

/** A kernel segment's views; its scalars come from its row. */
type SegmentViews = Omit<Segment, 'scalars'>;

/** The states of one StepCounts batch that this plan steps, and its edit count when built. */
interface Counted {
  counts: StepCounts;
  edits: number;
  indices: Int32Array;
}

/** A state this library did not make (see step_counts.ts): checked one by one. */
interface UncountedState {
  state: AdamState;
  row: number;
}

/** Groups `states` by where their step counts live. */
function countedStates(states: readonly AdamState[], rowOf: readonly number[]): { counted: Counted[]; foreign: UncountedState[] } {
  const byBatch = new Map<StepCounts, number[]>();
  const foreign: UncountedState[] = [];
  states.forEach((state, k) => {
    const slot = stepSlot(state);
    if (!slot) foreign.push({ state, row: rowOf[k]! });
    else if (byBatch.has(slot.counts)) byBatch.get(slot.counts)!.push(slot.index);
    else byBatch.set(slot.counts, [slot.index]);
  });
  const counted = [...byBatch].map(([counts, indices]) => ({ counts, edits: counts.edits, indices: Int32Array.from(indices) }));
  return { counted, foreign };
}

interface Row {
  group: number;
  /** The step count its parameters have before this step. */
  step: number;
}

/** A run of views with the same length; adjacent when each continues the other in memory.
 * 8-bit moments never join: a segment must start a block of its own tensor. */
function adjacent(a: Moment | null, b: Moment | null): boolean {
  if (a === null || b === null) return a === b;
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
  return a.buffer === b.buffer && a.byteOffset + a.byteLength === b.byteOffset;
}

function span<T extends Float32Array | Uint16Array>(first: T, length: number): T {
  return new (first.constructor as new (b: ArrayBufferLike, o: number, n: number) => T)(first.buffer, first.byteOffset, length);
}

/** Elements [start, end) of a moment; for 8-bit, start begins a block. */
function cutMoment(m: Moment, start: number, end: number): Moment {
  if (m instanceof Float32Array || m instanceof Uint16Array) return m.subarray(start, end);
  return { codes: m.codes.subarray(start, end), scale: m.scale.subarray(start / Q8_BLOCK, Math.ceil(end / Q8_BLOCK)) };
}

/** The js backend on the event loop keeps it live by yielding every this many elements. */
const JS_SLICE = 1 << 20;

export class StepPlan {
  /** The groups array the plan was built for (addParamGroup replaces it). */
  readonly groups: readonly { readonly params: readonly Parameter[] }[];
  /** Per parameter of every group in order: the grad it steps with, or null if skipped. */
  readonly #expected: Array<Float32Array | null>;
  /** Every parameter of every group, in order: one flat loop per step instead of nested ones. */
  readonly #params: Parameter[];
  readonly #counted: Counted[];
  readonly #foreign: UncountedState[];
  readonly #rows: Row[];
  readonly #amsgrad: boolean[];
  /** Per group, the stateDtype and min8bitSize the plan's state was checked against. */
  readonly #formats: Array<[AdamHyper['stateDtype'], AdamHyper['min8bitSize']]>;
  readonly #fresh: Array<[Parameter, AdamState]>;
  readonly #segments: SegmentViews[];
  /** Every parameter this plan steps, in order; segment k is updates[k] when not coalesced. */
  readonly updates: readonly ParamUpdate[];
  readonly #segmentRows: readonly number[];
  readonly #scalars: Float64Array;
  /** Until the first run: what to prepare the native plan from. */
  #pending: TableWriter | null;
  /** Every buffer the plan reads or writes, and its byteLength when the plan was built: a
   * detached (or shrunk) buffer changes it, and sends the step back to full validation. */
  readonly #buffers: ArrayBufferLike[];
  readonly #byteLengths: number[];
  #native: NativePlan | null = null;
  /** parameterAssignments() when every parameter last matched #expected. */
  #assignments = parameterAssignments();
  stateVersion = -1;

  private constructor(
    groups: readonly { readonly params: readonly Parameter[] }[],
    expected: Array<Float32Array | null>,
    states: AdamState[],
    rowOf: number[],
    rows: Row[],
    amsgrad: boolean[],
    formats: Array<[AdamHyper['stateDtype'], AdamHyper['min8bitSize']]>,
    fresh: Array<[Parameter, AdamState]>,
    segments: SegmentViews[],
    segmentRows: readonly number[],
    pending: TableWriter | null,
    updates: readonly ParamUpdate[],
  ) {
    this.updates = updates;
    this.groups = groups;
    this.#expected = expected;
    this.#params = groups.flatMap((g) => g.params);
    ({ counted: this.#counted, foreign: this.#foreign } = countedStates(states, rowOf));
    this.#rows = rows;
    this.#amsgrad = amsgrad;
    this.#formats = formats;
    this.#fresh = fresh;
    this.#segments = segments;
    this.#segmentRows = segmentRows;
    this.#scalars = new Float64Array(rows.length * addon.planLayout.scalars.STRIDE);
    this.#pending = pending;
    this.#buffers = pending ? pending.buffers.map((b) => (b instanceof ArrayBuffer ? b : b.buffer)) : [];
    this.#byteLengths = this.#buffers.map((b) => b.byteLength);
  }

  /** Builds the plan for validated groups, creating the state of parameters stepped for the
   * first time (registered only by commit(), after the kernel ran). Without `coalesce`, every
   * parameter is a segment of its own, so a pre-pass can report per parameter. */
  static build(groups: StepPlan['groups'], validated: readonly GroupUpdates[], allocate: StateAllocator, coalesce = true): StepPlan {
    const expected: Array<Float32Array | null> = [];
    const states: AdamState[] = [];
    const rowIndex: number[] = [];
    const rows: Row[] = [];
    const fresh: Array<[Parameter, AdamState]> = [];
    const segments: SegmentViews[] = [];
    const segmentRows: number[] = [];
    validated.forEach(({ hyper, updates }, gi) => {
      const stepping = new Set(updates.map((w) => w.param));
      for (const p of groups[gi]!.params) expected.push(stepping.has(p) ? p.grad : null);
      const created = allocate(gi, updates.filter((w) => !w.state).map((w) => w.param), hyper.amsgrad);
      let k = 0;
      const rowByStep = new Map<number, number>();
      let open: SegmentViews | null = null;
      let openRow = -1;
      for (const w of updates) {
        const state = w.state ?? created[k++]!;
        if (!w.state) fresh.push([w.param, state]);
        let row = rowByStep.get(state.step);
        if (row === undefined) {
          row = rows.length;
          rows.push({ group: gi, step: state.step });
          rowByStep.set(state.step, row);
        }
        states.push(state);
        rowIndex.push(row);
        const views = {
          param: w.param.data,
          grad: w.param.grad!,
          expAvg: state.expAvg,
          expAvgSq: state.expAvgSq,
          maxExpAvgSq: state.maxExpAvgSq ?? null,
        };
        const joins =
          coalesce &&
          open !== null &&
          openRow === row &&
          adjacent(open.param, views.param) &&
          adjacent(open.grad, views.grad) &&
          adjacent(open.expAvg, views.expAvg) &&
          adjacent(open.expAvgSq, views.expAvgSq) &&
          adjacent(open.maxExpAvgSq, views.maxExpAvgSq);
        if (joins) {
          const n: number = open!.param.length + views.param.length;
          open = {
            param: span(open!.param, n),
            grad: span(open!.grad, n),
            expAvg: span(open!.expAvg as Float32Array | Uint16Array, n),
            expAvgSq: span(open!.expAvgSq as Float32Array | Uint16Array, n),
            maxExpAvgSq: open!.maxExpAvgSq && span(open!.maxExpAvgSq as Float32Array | Uint16Array, n),
          };
          segments[segments.length - 1] = open;
        } else {
          open = views;
          openRow = row;
          segments.push(open);
          segmentRows.push(row);
        }
      }
    });
    let writer: TableWriter | null = null;
    if (segments.length > 0) {
      writer = new TableWriter(segments.length);
      segments.forEach((s, k) => writer!.row(k, s.param.length, segmentRows[k]!, s));
    }
    const amsgrad = validated.map((g) => g.hyper.amsgrad);
    const formats = validated.map((g): [AdamHyper['stateDtype'], AdamHyper['min8bitSize']] => [g.hyper.stateDtype, g.hyper.min8bitSize]);
    const updates = validated.flatMap((g) => g.updates);
    return new StepPlan(groups, expected, states, rowIndex, rows, amsgrad, formats, fresh, segments, segmentRows, writer, updates);
  }

  /** The number of kernel segments (coalesced runs). */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** True if this plan still describes the next step exactly. `hypers` are this step's,
   * validated; `stateVersion` is the state map's. Reads the parameters only when some Parameter
   * was assigned a grad or requiresGrad since they last matched; reads every buffer's byteLength. */
  matches(groups: StepPlan['groups'], hypers: readonly AdamHyper[], stateVersion: number): boolean {
    if (groups !== this.groups || stateVersion !== this.stateVersion) return false;
    for (let g = 0; g < hypers.length; g++) {
      const h = hypers[g]!;
      if (h.amsgrad !== this.#amsgrad[g] || h.stateDtype !== this.#formats[g]![0] || h.min8bitSize !== this.#formats[g]![1]) return false;
    }
    const assignments = parameterAssignments();
    if (assignments !== this.#assignments) {
      const params = this.#params, expected = this.#expected;
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        if ((p.requiresGrad ? p.grad : null) !== expected[i]) return false;
      }
      this.#assignments = assignments;
    }
    const counted = this.#counted, foreign = this.#foreign, rows = this.#rows;
    for (let j = 0; j < counted.length; j++) if (counted[j]!.counts.edits !== counted[j]!.edits) return false;
    for (let k = 0; k < foreign.length; k++) if (foreign[k]!.state.step !== rows[foreign[k]!.row]!.step) return false;
    const buffers = this.#buffers, bytes = this.#byteLengths;
    for (let b = 0; b < buffers.length; b++) if (buffers[b]!.byteLength !== bytes[b]) return false;
    return true;
  }

  #fillScalars(hypers: readonly AdamHyper[]): void {
    this.#rows.forEach((row, r) => writeScalars(this.#scalars, r, adamScalars(hypers[row.group]!, row.step + 1)));
  }

  #jsScalars(hypers: readonly AdamHyper[]): ReturnType<typeof adamScalars>[] {
    return this.#rows.map((row) => adamScalars(hypers[row.group]!, row.step + 1));
  }

  /** What a step reads (the grads) and writes (the rest), for the js backend's claim: the
   * addon's steps claim it themselves (native/runtime/claims.h). */
  #access(): Access[] {
    return this.#segments.flatMap((s) => {
      return [[s.param, true], [s.grad, false], ...momentAccess(s.expAvg, true), ...momentAccess(s.expAvgSq, true), ...momentAccess(s.maxExpAvgSq, true)] as Access[];
    });
  }

  /** Runs the step synchronously, in one native crossing (or the TypeScript reference), with
   * the read-only pre-pass first when `prePass` asks for one. A running step holding some of its
   * memory makes the addon throw ERR_BUSY (the js backend: busyError(where)), nothing written. */
  run(hypers: readonly AdamHyper[], prePass?: PrePass, where = 'step()'): StepOutcome {
    if (this.#segments.length === 0) return CLEAN_OUTCOME;
    if (isJsBackend()) {
      return whileClaimed(this.#access(), where, () => {
        const outcome = prePass ? prePassReference(this.#segments, prePass) : CLEAN_OUTCOME;
        if (outcome.stopped) return outcome;
        const scalars = this.#jsScalars(hypers);
        this.#segments.forEach((s, k) => stepReference({ ...s, scalars: scalars[this.#segmentRows[k]!]! }));
        return outcome;
      });
    }
    this.#fillScalars(hypers);
    if (!prePass) {
      // Reached only through matches() (which compared every byteLength) or a fresh build.
      if (this.#native) addon.run(this.#native, this.#scalars, true);
      else this.#native = addon.prepare(this.#pending!.buffers, this.#pending!.table, this.#scalars);
      this.#pending = null;
      return CLEAN_OUTCOME;
    }
    const { flags, zeroReport } = guardArguments(prePass, this.#segments.length);
    const reducedZero = prePass.zeroScan ? reducedExpAvgZero(this.#segments) : null;
    let stop: readonly [number, number] | null | undefined;
    if (this.#native) stop = addon.run(this.#native, this.#scalars, true, flags, zeroReport);
    else [this.#native, stop] = addon.prepare(this.#pending!.buffers, this.#pending!.table, this.#scalars, flags, zeroReport);
    this.#pending = null;
    if (!stop) completeZeroReport(zeroReport, reducedZero);
    return guardOutcome(stop, zeroReport);
  }

  /** Starts the same step off the event loop. Throws synchronously if the plan no longer fits
   * its buffers; the promise settles when every element is written. A pre-pass runs before this
   * returns, on the calling thread: a refused step settles at once, having written nothing. */
  runAsync(hypers: readonly AdamHyper[], prePass?: PrePass, where = 'stepAsync()'): Promise<StepOutcome> {
    if (this.#segments.length === 0) return Promise.resolve(CLEAN_OUTCOME);
    if (isJsBackend()) {
      const release = claim(this.#access(), where);
      try {
        const outcome = prePass ? prePassReference(this.#segments, prePass) : CLEAN_OUTCOME;
        if (outcome.stopped) {
          release();
          return Promise.resolve(outcome);
        }
        return this.#runJsSliced(this.#jsScalars(hypers)).then(() => outcome).finally(release);
      } catch (error) {
        release();
        throw error;
      }
    }
    this.#fillScalars(hypers);
    const guard = prePass && guardArguments(prePass, this.#segments.length);
    const reducedZero = prePass?.zeroScan ? reducedExpAvgZero(this.#segments) : null;
    let started: Promise<void> | Stop;
    if (this.#native) {
      started = guard ? addon.runAsync(this.#native, this.#scalars, true, guard.flags, guard.zeroReport) : addon.runAsync(this.#native, this.#scalars, true);
    } else {
      const { buffers, table } = this.#pending!;
      [this.#native, started] = guard ? addon.prepareAsync(buffers, table, this.#scalars, guard.flags, guard.zeroReport) : addon.prepareAsync(buffers, table, this.#scalars);
      this.#pending = null;
    }
    if (Array.isArray(started)) return Promise.resolve(guardOutcome(started, guard!.zeroReport));
    if (guard) completeZeroReport(guard.zeroReport, reducedZero);
    return started.then(() => (guard ? guardOutcome(null, guard.zeroReport) : CLEAN_OUTCOME));
  }

  /** The js backend has no thread to run on: it yields to the event loop between slices. */
  async #runJsSliced(scalars: ReturnType<typeof adamScalars>[]): Promise<void> {
    let done = 0;
    for (let k = 0; k < this.#segments.length; k++) {
      const s = this.#segments[k]!;
      const sc = scalars[this.#segmentRows[k]!]!;
      for (let start = 0; start < s.param.length || start === 0; start += JS_SLICE) {
        const end = Math.min(s.param.length, start + JS_SLICE);
        const cut = (a: Float32Array) => a.subarray(start, end);
        const moment = (m: Moment) => cutMoment(m, start, end);
        stepReference({ param: cut(s.param), grad: cut(s.grad), expAvg: moment(s.expAvg), expAvgSq: moment(s.expAvgSq), maxExpAvgSq: s.maxExpAvgSq && moment(s.maxExpAvgSq), scalars: sc });
        done += end - start;
        if (done >= JS_SLICE) {
          done = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (end >= s.param.length) break;
      }
    }
  }

  /** After the kernel ran: counts the step and registers state created for it. */
  commit(register: (param: Parameter, state: AdamState) => void): void {
    for (const row of this.#rows) row.step++;
    for (const { counts, indices } of this.#counted) {
      const c = counts.counts;
      for (let k = 0; k < indices.length; k++) c[indices[k]!]!++;
    }
    for (const { state } of this.#foreign) state.step++;
    for (const [param, state] of this.#fresh) register(param, state);
    this.#fresh.length = 0;
  }
}
