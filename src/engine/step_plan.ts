/**
 * A step of Adam over all groups as one cached plan: the parameters that have a grad, their
 * state, coalesced into kernel segments, prepared natively once. While nothing that shapes it
 * changes (which parameters have a grad, requiresGrad, the state objects, amsgrad), a step
 * checks it (reading the parameters only if some grad or requiresGrad was assigned since, and
 * every buffer's byteLength), writes one row of scalars per (group, step) and crosses into
 * native code once. Grads replaced by other arrays (a backward pass that allocates) change only
 * the plan's grad column (grad_column.ts): those grads alone are checked, and the native plan
 * refreshes that column in one more call.
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
  writeGradColumn,
  writeScalars,
  type PrePass,
  type Segment,
  type StepOutcome,
} from './segment_table.js';
import { momentViews, type Moment } from './lowbit_state.js';
import { Q8_BLOCK } from '../reference/adam_lowbit.js';
import { GradColumn } from './grad_column.js';

export type { PrePass, StepOutcome } from './segment_table.js';

import { adamScalars, type AdamHyper } from '../reference/adam.js';
import { stepSlot, type StepCounts } from './step_counts.js';
import { claim, stepAccess, whileClaimed } from './claims.js';

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

/** What build() gathers for the plan. Per update, in order: `states` and `rowOf` (its row of
 * scalars); per parameter of every group: `expected` (its grad, or null if it is skipped). */
interface PlanParts {
  groups: StepPlan['groups'];
  expected: Array<Float32Array | null>;
  grads: GradColumn;
  states: AdamState[];
  rowOf: number[];
  rows: Row[];
  amsgrad: boolean[];
  formats: Array<[AdamHyper['stateDtype'], AdamHyper['min8bitSize']]>;
  fresh: Array<[Parameter, AdamState]>;
  segments: SegmentViews[];
  segmentRows: readonly number[];
  /** Until the first run: what to prepare the native plan from (null without segments). */
  pending: TableWriter | null;
  updates: readonly ParamUpdate[];
}

/** The js backend on the event loop keeps it live by yielding every this many elements. */
const JS_SLICE = 1 << 20;

export class StepPlan {
  /** The groups array the plan was built for (addParamGroup replaces it). */
  readonly groups: readonly { readonly params: readonly Parameter[] }[];
  /** Per parameter of every group in order: its index in `updates` (whose grad is the grad
   * column's), or -1 if it is skipped. */
  readonly #updateOf: Int32Array;
  readonly #grads: GradColumn;
  /** Set once the parameters stopped fitting the plan part-way through matches(). */
  #broken = false;
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
  /** parameterAssignments() when every parameter last matched the plan. */
  #assignments = parameterAssignments();
  stateVersion = -1;

  private constructor(parts: PlanParts) {
    const { groups, expected, states, rowOf, rows, pending } = parts;
    ({ groups: this.groups, updates: this.updates, grads: this.#grads, fresh: this.#fresh, rows: this.#rows, amsgrad: this.#amsgrad,
      formats: this.#formats, segments: this.#segments, segmentRows: this.#segmentRows } = parts);
    this.#params = groups.flatMap((g) => g.params);
    this.#updateOf = new Int32Array(expected.length).fill(-1);
    for (let i = 0, u = 0; i < expected.length; i++) if (expected[i] !== null) this.#updateOf[i] = u++;
    ({ counted: this.#counted, foreign: this.#foreign } = countedStates(states, rowOf));
    this.#scalars = new Float64Array(rows.length * addon.planLayout.scalars.STRIDE);
    this.#pending = pending;
    this.#buffers = pending ? pending.buffers.map((b) => (b instanceof ArrayBuffer ? b : b.buffer)) : [];
    this.#byteLengths = this.#buffers.map((b) => b.byteLength);
  }

  /** Builds the plan for validated groups, creating the state of parameters stepped for the
   * first time (registered only by commit(), after the kernel ran). Without `coalesce`, every
   * parameter is a segment of its own, so a pre-pass can report per parameter. `liveStates`
   * lists every state in the optimizer's map (what a later grad must not overlap). */
  static build(groups: StepPlan['groups'], validated: readonly GroupUpdates[], allocate: StateAllocator, liveStates: () => Iterable<AdamState>, coalesce = true): StepPlan {
    const expected: Array<Float32Array | null> = [];
    const states: AdamState[] = [];
    const rowIndex: number[] = [];
    const rows: Row[] = [];
    const fresh: Array<[Parameter, AdamState]> = [];
    const segments: SegmentViews[] = [];
    const segmentRows: number[] = [];
    const grads: Float32Array[] = [];
    const segmentOf: number[] = [];
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
        grads.push(views.grad);
        segmentOf.push(segments.length - 1);
      }
    });
    const writer = new TableWriter(segments.length);
    segments.forEach((s, k) => writer.fixedRow(k, s.param.length, segmentRows[k]!, s));
    const written = function* (): Iterable<ArrayBufferView> {
      for (const { updates } of validated) for (const w of updates) yield w.param.data;
      for (const state of liveStates()) {
        for (const moment of [state.expAvg, state.expAvgSq, state.maxExpAvgSq]) if (moment) yield* momentViews(moment);
      }
    };
    const column = new GradColumn(grads, Int32Array.from(segmentOf), segments.length, writer.buffers.length, written);
    const amsgrad = validated.map((g) => g.hyper.amsgrad);
    const formats = validated.map((g): [AdamHyper['stateDtype'], AdamHyper['min8bitSize']] => [g.hyper.stateDtype, g.hyper.min8bitSize]);
    const updates = validated.flatMap((g) => g.updates);
    const pending = segments.length > 0 ? writer : null;
    return new StepPlan({ groups, expected, grads: column, states, rowOf: rowIndex, rows, amsgrad, formats, fresh, segments, segmentRows, pending, updates });
  }

  /** The number of kernel segments (coalesced runs). */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** True if this plan still describes the next step exactly. `hypers` are this step's,
   * validated; `stateVersion` is the state map's. Reads the parameters only when some Parameter
   * was assigned a grad or requiresGrad since they last matched; reads every buffer's byteLength. */
  matches(groups: StepPlan['groups'], hypers: readonly AdamHyper[], stateVersion: number): boolean {
    if (this.#broken || groups !== this.groups || stateVersion !== this.stateVersion) return false;
    for (let g = 0; g < hypers.length; g++) {
      const h = hypers[g]!;
      if (h.amsgrad !== this.#amsgrad[g] || h.stateDtype !== this.#formats[g]![0] || h.min8bitSize !== this.#formats[g]![1]) return false;
    }
    const assignments = parameterAssignments();
    if (assignments !== this.#assignments) {
      const params = this.#params, updateOf = this.#updateOf, column = this.#grads, current = column.grads;
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!;
        const grad = p.requiresGrad ? p.grad : null;
        const u = updateOf[i]!;
        if (u < 0) {
          if (grad === null) continue;
          return this.#break();
        }
        if (grad === current[u]) continue;
        // Another grad for a parameter that had one: only the grad column changes.
        if (grad === null || !column.update(u, grad)) return this.#break();
      }
      if (!column.settle()) return this.#break();
      this.#assignments = assignments;
    }
    if (!this.#grads.intact()) return false;
    const counted = this.#counted, foreign = this.#foreign, rows = this.#rows;
    for (let j = 0; j < counted.length; j++) if (counted[j]!.counts.edits !== counted[j]!.edits) return false;
    for (let k = 0; k < foreign.length; k++) if (foreign[k]!.state.step !== rows[foreign[k]!.row]!.step) return false;
    const buffers = this.#buffers, bytes = this.#byteLengths;
    for (let b = 0; b < buffers.length; b++) if (buffers[b]!.byteLength !== bytes[b]) return false;
    return true;
  }

  /** The parameters no longer fit the plan, whose grad column may be half-updated by now: it is
   * never used again. */
  #break(): false {
    this.#broken = true;
    return false;
  }

  /** The segments' views, their grads brought up to date after a grad refresh. */
  #views(): SegmentViews[] {
    if (this.#grads.viewsStale) {
      this.#segments.forEach((s, k) => (s.grad = this.#grads.segmentGrad(k, s.param.length)));
      this.#grads.viewsStale = false;
    }
    return this.#segments;
  }

  /** The first time: what to prepare the native plan from. Later null, once the native plan's
   * grad column is brought up to date. */
  #toPrepare(): { buffers: Array<ArrayBuffer | Uint8Array>; table: Float64Array } | null {
    if (this.#native) {
      this.#grads.sync(this.#native);
      return null;
    }
    const { buffers, table } = this.#pending!;
    writeGradColumn(table, this.#grads.column);
    return { buffers: buffers.concat(this.#grads.registry), table };
  }

  #prepared(native: NativePlan): void {
    this.#native = native;
    this.#pending = null;
    this.#grads.prepared();
  }

  #fillScalars(hypers: readonly AdamHyper[]): void {
    this.#rows.forEach((row, r) => writeScalars(this.#scalars, r, adamScalars(hypers[row.group]!, row.step + 1)));
  }

  #jsScalars(hypers: readonly AdamHyper[]): ReturnType<typeof adamScalars>[] {
    return this.#rows.map((row) => adamScalars(hypers[row.group]!, row.step + 1));
  }

  /** Runs the step synchronously, in one native crossing (or the TypeScript reference), with
   * the read-only pre-pass first when `prePass` asks for one. A running step holding some of its
   * memory makes the addon throw ERR_BUSY (the js backend: busyError(where)), nothing written. */
  run(hypers: readonly AdamHyper[], prePass?: PrePass, where = 'step()'): StepOutcome {
    if (this.#segments.length === 0) return CLEAN_OUTCOME;
    if (isJsBackend()) {
      return whileClaimed(stepAccess(this.#views()), where, () => {
        const outcome = prePass ? prePassReference(this.#views(), prePass) : CLEAN_OUTCOME;
        if (outcome.stopped) return outcome;
        const scalars = this.#jsScalars(hypers);
        this.#views().forEach((s, k) => stepReference({ ...s, scalars: scalars[this.#segmentRows[k]!]! }));
        return outcome;
      });
    }
    this.#fillScalars(hypers);
    const unprepared = this.#toPrepare();
    if (!prePass) {
      // Reached only through matches() (which compared every byteLength) or a fresh build.
      if (!unprepared) addon.run(this.#native!, this.#scalars, true);
      else this.#prepared(addon.prepare(unprepared.buffers, unprepared.table, this.#scalars));
      return CLEAN_OUTCOME;
    }
    const { flags, zeroReport } = guardArguments(prePass, this.#segments.length);
    const reducedZero = prePass.zeroScan ? reducedExpAvgZero(this.#views()) : null;
    let stop: readonly [number, number] | null | undefined;
    if (!unprepared) stop = addon.run(this.#native!, this.#scalars, true, flags, zeroReport);
    else {
      const [native, stopped] = addon.prepare(unprepared.buffers, unprepared.table, this.#scalars, flags, zeroReport);
      this.#prepared(native);
      stop = stopped;
    }
    if (!stop) completeZeroReport(zeroReport, reducedZero);
    return guardOutcome(stop, zeroReport);
  }

  /** Starts the same step off the event loop. Throws synchronously if the plan no longer fits
   * its buffers; the promise settles when every element is written. A pre-pass runs before this
   * returns, on the calling thread: a refused step settles at once, having written nothing. */
  runAsync(hypers: readonly AdamHyper[], prePass?: PrePass, where = 'stepAsync()'): Promise<StepOutcome> {
    if (this.#segments.length === 0) return Promise.resolve(CLEAN_OUTCOME);
    if (isJsBackend()) {
      // The addon's steps claim their memory themselves; the js backend's does it here.
      const release = claim(stepAccess(this.#views()), where);
      const outcome = prePass ? prePassReference(this.#views(), prePass) : CLEAN_OUTCOME;
      if (outcome.stopped) release();
      return outcome.stopped ? Promise.resolve(outcome) : this.#runJsSliced(this.#jsScalars(hypers)).then(() => outcome).finally(release);
    }
    this.#fillScalars(hypers);
    const guard = prePass && guardArguments(prePass, this.#segments.length);
    const reducedZero = prePass?.zeroScan ? reducedExpAvgZero(this.#views()) : null;
    let started: Promise<void> | Stop;
    const unprepared = this.#toPrepare();
    if (!unprepared) {
      started = guard ? addon.runAsync(this.#native!, this.#scalars, true, guard.flags, guard.zeroReport) : addon.runAsync(this.#native!, this.#scalars, true);
    } else {
      const { buffers, table } = unprepared;
      let native: NativePlan;
      [native, started] = guard ? addon.prepareAsync(buffers, table, this.#scalars, guard.flags, guard.zeroReport) : addon.prepareAsync(buffers, table, this.#scalars);
      this.#prepared(native);
    }
    if (Array.isArray(started)) return Promise.resolve(guardOutcome(started, guard!.zeroReport));
    if (guard) completeZeroReport(guard.zeroReport, reducedZero);
    return started.then(() => (guard ? guardOutcome(null, guard.zeroReport) : CLEAN_OUTCOME));
  }

  /** The js backend has no thread to run on: it yields to the event loop between slices. */
  async #runJsSliced(scalars: ReturnType<typeof adamScalars>[]): Promise<void> {
    let done = 0;
    const segments = this.#views();
    for (let k = 0; k < segments.length; k++) {
      const s = segments[k]!;
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
