/**
 * The grads of a cached step plan as one column of its table: per kernel segment, the grad's
 * (buffer index, element offset). A training loop whose backward pass hands step() new arrays
 * every step changes only this column, so the plan keeps everything else (parameter and state
 * rows, scalars rows, the native references to parameter and state buffers) and refreshes the
 * column in one native call.
 *
 * Per changed grad: its type and length, then, for an array this parameter did not step with
 * in its last two grads, its buffer's index in a registry of grad buffers (the buffer of the
 * grad just before it, or a Map lookup) and one binary search against the ranges the step
 * writes in that buffer (sorted once per buffer). A loop alternating between grad sets thus
 * reads two numbers per grad; one that slices a flat buffer anew does no Map lookup. Anything unusual
 * (a wrong type or length, an alias, a coalesced segment whose grads are no longer adjacent)
 * returns false, and the caller validates from scratch, which names the cause.
 *
 * The registry keeps grad buffers referenced until it holds more than twice as many as the plan
 * has parameters (then it starts over from the current grads): up to two earlier steps' grad
 * buffers stay alive, so that they can be found again without asking native code.
 */
import { addon, type NativePlan } from '../native/addon.js';
import { meetsRanges, WriteIndex, type WriteRanges } from './overlap.js';
import { bufferHandle } from './segment_table.js';

const BYTES = Float32Array.BYTES_PER_ELEMENT;
/** Registry entries kept beyond twice the parameter count before it starts over. */
const REGISTRY_SLACK = 64;

export class GradColumn {
  /** Per segment: (buffer index, element offset) of its grad, as the table's grad columns. */
  readonly column: Float64Array;
  /** Plan buffers before the first grad buffer (parameters and state). */
  readonly #fixed: number;
  /** Per update (a parameter the plan steps, in order): its element count, its segment,
   * whether it starts it, its grad, and that grad's registry entry. */
  readonly #numel: Float64Array;
  readonly #segmentOf: Int32Array;
  readonly #starts: Uint8Array;
  /** Per update: the grad it steps with (read-only outside this class). */
  readonly grads: readonly Float32Array[];
  readonly #grads: Float32Array[];
  readonly #entry: Int32Array;
  /** Per segment: its first update. */
  readonly #firstOf: Int32Array;
  /** The registry: grad buffers as the addon takes them, as they are, and (once asked) the
   * ranges the step writes in each (null: none). */
  readonly #handles: Array<ArrayBuffer | Uint8Array> = [];
  readonly #raw: ArrayBufferLike[] = [];
  readonly #writes: Array<WriteRanges | null | undefined> = [];
  readonly #marks: number[] = [];
  /** Per entry: the buffer's byteLength when registered. */
  readonly #bytes: number[] = [];
  readonly #indexOf = new Map<ArrayBufferLike, number>();
  /** Registry entries the native plan already holds. */
  #nativeKnown = 0;
  /** Per update: its last two grads that passed update() (or the build's checks), their
   * registry entries and element offsets. */
  readonly #recent: Array<Float32Array | undefined>;
  readonly #recentEntry: Int32Array;
  readonly #recentOffset: Float64Array;
  readonly #older: Array<Float32Array | undefined>;
  readonly #olderEntry: Int32Array;
  readonly #olderOffset: Float64Array;
  #lastBuffer: ArrayBufferLike | undefined;
  #lastEntry = -1;
  /** The registry entries the column uses: a buffer detached since sends the step back to full
   * validation. */
  readonly #inUse: Int32Array;
  #inUseCount = 0;
  /** The list is behind the grads: made again only when a step must check it. */
  #inUseStale = true;
  /** Updates whose grad changed since the last settle(). */
  #changes = 0;
  /** True when the last settle() saw every grad change: each was just checked, so a loop that
   * brings all grads new every step never needs the list. */
  #allRead = false;
  #generation = 0;
  /** Coalesced segments with a changed grad, to check for adjacency once all are read. */
  readonly #touched: number[] = [];
  /** The native column is behind this one. */
  #dirty = false;
  /** Segment views (for the 'js' backend and its pre-pass) are behind the grads. */
  viewsStale = false;
  readonly #writeViews: () => Iterable<ArrayBufferView>;
  #writeIndex: WriteIndex | null = null;

  /** `grads[u]` and `segmentOf[u]` per update, in order; `fixed` plan buffers come first;
   * `writeViews` lists everything the step writes (asked once, when a grad first changes). */
  constructor(grads: Float32Array[], segmentOf: Int32Array, segments: number, fixed: number, writeViews: () => Iterable<ArrayBufferView>) {
    const n = grads.length;
    this.column = new Float64Array(2 * segments);
    this.#fixed = fixed;
    this.grads = this.#grads = grads;
    this.#segmentOf = segmentOf;
    this.#numel = Float64Array.from(grads, (g) => g.length);
    this.#starts = new Uint8Array(n);
    this.#firstOf = new Int32Array(segments);
    for (let u = 0; u < n; u++) {
      if (u === 0 || segmentOf[u - 1] !== segmentOf[u]) {
        this.#starts[u] = 1;
        this.#firstOf[segmentOf[u]!] = u;
      }
    }
    this.#entry = new Int32Array(n);
    this.#inUse = new Int32Array(n);
    this.#recent = new Array<Float32Array | undefined>(n).fill(undefined);
    this.#older = new Array<Float32Array | undefined>(n).fill(undefined);
    this.#recentEntry = new Int32Array(n);
    this.#olderEntry = new Int32Array(n);
    this.#recentOffset = new Float64Array(n);
    this.#olderOffset = new Float64Array(n);
    this.#writeViews = writeViews;
    for (let u = 0; u < n; u++) this.#remember(u, grads[u]!);
  }

  /** The registry's buffers: a plan prepared from scratch takes them after the fixed ones. */
  get registry(): ReadonlyArray<ArrayBuffer | Uint8Array> {
    return this.#handles;
  }

  /** The native plan was just prepared with the registry and this column. */
  prepared(): void {
    this.#nativeKnown = this.#handles.length;
    this.#dirty = false;
  }

  /** Update `u` now steps with `grad` (not the array it had). False unless `grad` is a
   * Float32Array of the parameter's length that meets nothing the step writes. */
  update(u: number, grad: unknown): boolean {
    if (!(grad instanceof Float32Array) || grad.length !== this.#numel[u]) return false;
    let j: number, offset: number;
    if (grad === this.#recent[u]) {
      j = this.#recentEntry[u]!;
      offset = this.#recentOffset[u]!;
    } else if (grad === this.#older[u]) {
      j = this.#olderEntry[u]!;
      offset = this.#olderOffset[u]!;
    } else {
      j = this.#remember(u, grad);
      let writes = this.#writes[j];
      if (writes === undefined) writes = this.#writes[j] = (this.#writeIndex ??= new WriteIndex(this.#writeViews())).rangesIn(this.#raw[j]!);
      if (writes !== null && meetsRanges(writes, grad.byteOffset, grad.byteLength)) return false;
      offset = this.#recentOffset[u]!;
    }
    this.#grads[u] = grad;
    this.#entry[u] = j;
    const s = this.#segmentOf[u]!;
    if (this.#starts[u]) {
      this.column[2 * s] = this.#fixed + j;
      this.column[2 * s + 1] = offset;
    }
    const coalesced = !this.#starts[u] || (u + 1 < this.#segmentOf.length && this.#segmentOf[u + 1] === s);
    if (coalesced && this.#touched[this.#touched.length - 1] !== s) this.#touched.push(s);
    this.#changes++;
    return true;
  }

  /** After every changed grad went through update(): false if a coalesced segment's grads no
   * longer continue one another in memory (the plan must be rebuilt). */
  settle(): boolean {
    const segmentOf = this.#segmentOf, grads = this.#grads;
    for (const s of this.#touched) {
      for (let u = this.#firstOf[s]! + 1; u < segmentOf.length && segmentOf[u] === s; u++) {
        const prev = grads[u - 1]!, g = grads[u]!;
        if (g.buffer !== prev.buffer || g.byteOffset !== prev.byteOffset + prev.byteLength) return false;
      }
    }
    this.#touched.length = 0;
    this.#allRead = this.#changes === grads.length;
    if (this.#changes === 0) return true;
    this.#changes = 0;
    if (this.#handles.length > 2 * grads.length + REGISTRY_SLACK) {
      // Unchanged grads are checked before their buffers' byteLengths are taken again.
      if (!this.#allRead && !this.intact()) return false;
      this.#restart();
    }
    this.#inUseStale = true;
    this.#dirty = true;
    this.viewsStale = true;
    return true;
  }

  /** True while every grad buffer in use still has the byteLength it had when registered. */
  intact(): boolean {
    if (this.#allRead) {
      this.#allRead = false;
      return true;
    }
    if (this.#inUseStale) this.#collectInUse();
    const inUse = this.#inUse, raw = this.#raw, bytes = this.#bytes;
    for (let k = 0; k < this.#inUseCount; k++) {
      const j = inUse[k]!;
      if (raw[j]!.byteLength !== bytes[j]) return false;
    }
    return true;
  }

  /** Brings the native plan's grad column up to date: one call, reading only buffers it has not
   * seen. Throws (the addon's internal error) if a grad no longer fits its buffer. */
  sync(native: NativePlan): void {
    if (!this.#dirty) return;
    addon.refreshGrads(native, this.#fixed, this.#handles, this.#nativeKnown, this.column);
    this.#nativeKnown = this.#handles.length;
    this.#dirty = false;
  }

  /** Segment `s`'s grad view of `length` elements. */
  segmentGrad(s: number, length: number): Float32Array {
    const g = this.#grads[this.#firstOf[s]!]!;
    return g.length === length ? g : new Float32Array(g.buffer, g.byteOffset, length);
  }

  /** Registers the grad's buffer (if new) and makes the grad update `u`'s most recent one;
   * returns its registry entry. At build, also writes the column cell. */
  #remember(u: number, grad: Float32Array): number {
    const b = grad.buffer;
    const j = b === this.#lastBuffer ? this.#lastEntry : this.#register(b);
    this.#lastBuffer = b;
    this.#lastEntry = j;
    this.#older[u] = this.#recent[u];
    this.#olderEntry[u] = this.#recentEntry[u]!;
    this.#olderOffset[u] = this.#recentOffset[u]!;
    this.#recent[u] = grad;
    this.#recentEntry[u] = j;
    this.#recentOffset[u] = grad.byteOffset / BYTES;
    this.#entry[u] = j;
    if (this.#starts[u]) {
      const s = this.#segmentOf[u]!;
      this.column[2 * s] = this.#fixed + j;
      this.column[2 * s + 1] = this.#recentOffset[u]!;
    }
    return j;
  }

  #register(buffer: ArrayBufferLike): number {
    let j = this.#indexOf.get(buffer);
    if (j === undefined) {
      j = this.#raw.length;
      this.#indexOf.set(buffer, j);
      this.#raw.push(buffer);
      this.#handles.push(bufferHandle(buffer));
      this.#writes.push(undefined);
      this.#marks.push(0);
      this.#bytes.push(buffer.byteLength);
    }
    return j;
  }

  /** Empties the registry and registers the current grads again (all already checked). */
  #restart(): void {
    this.#handles.length = this.#raw.length = this.#writes.length = this.#marks.length = this.#bytes.length = 0;
    this.#indexOf.clear();
    this.#recent.fill(undefined);
    this.#older.fill(undefined);
    this.#lastBuffer = undefined;
    this.#nativeKnown = 0;
    for (let u = 0; u < this.#grads.length; u++) this.#remember(u, this.#grads[u]!);
  }

  #collectInUse(): void {
    const generation = ++this.#generation;
    const marks = this.#marks, entry = this.#entry, inUse = this.#inUse;
    let count = 0;
    for (let u = 0; u < entry.length; u++) {
      const j = entry[u]!;
      if (marks[j] === generation) continue;
      marks[j] = generation;
      inUse[count++] = j;
    }
    this.#inUseCount = count;
    this.#inUseStale = false;
  }
}
