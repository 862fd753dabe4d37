/**
 * Which of many views share memory with which others, in O((r + w) log w): the ranges a step will
 * write are grouped by ArrayBuffer and sorted once, then each read range is one binary search.
 * Buffers that no read range uses are never sorted, so the usual case (every grad in memory of
 * its own) costs a map lookup per view.
 */

/** A view and what it is, for the message when it collides. */
export interface Span<T> {
  readonly view: ArrayBufferView;
  readonly tag: T;
}

/** One buffer's write ranges sorted by start, with the running maximum of their ends (and which
 * range reached it), so "does [a, b) meet any of them" is a single binary search. */
interface Sorted<W> {
  starts: number[];
  maxEnd: number[];
  argMax: Array<Span<W>>;
}

function sortRanges<W>(spans: Array<Span<W>>): Sorted<W> {
  spans.sort((x, y) => x.view.byteOffset - y.view.byteOffset);
  const starts: number[] = [];
  const maxEnd: number[] = [];
  const argMax: Array<Span<W>> = [];
  let best = -1;
  let bestSpan = spans[0]!;
  for (const s of spans) {
    const end = s.view.byteOffset + s.view.byteLength;
    if (end > best) [best, bestSpan] = [end, s];
    starts.push(s.view.byteOffset);
    maxEnd.push(best);
    argMax.push(bestSpan);
  }
  return { starts, maxEnd, argMax };
}

/** Index of the last start < end, or -1. */
function lastStartBefore(starts: readonly number[], end: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! < end) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The first read span (in the order given) that shares at least one byte with a write span, and
 * that write span; undefined when none does. Empty views share nothing.
 */
export function firstOverlap<R, W>(
  reads: ReadonlyArray<Span<R>>,
  writes: ReadonlyArray<Span<W>>,
): { read: Span<R>; write: Span<W> } | undefined {
  const readBuffers = new Set<ArrayBufferLike>();
  for (const r of reads) if (r.view.byteLength > 0) readBuffers.add(r.view.buffer);
  const byBuffer = new Map<ArrayBufferLike, Array<Span<W>>>();
  for (const w of writes) {
    if (w.view.byteLength === 0 || !readBuffers.has(w.view.buffer)) continue;
    const list = byBuffer.get(w.view.buffer);
    if (list) list.push(w);
    else byBuffer.set(w.view.buffer, [w]);
  }
  if (byBuffer.size === 0) return undefined;
  const sorted = new Map<ArrayBufferLike, Sorted<W>>();
  for (const read of reads) {
    const spans = byBuffer.get(read.view.buffer);
    if (!spans || read.view.byteLength === 0) continue;
    let table = sorted.get(read.view.buffer);
    if (!table) sorted.set(read.view.buffer, (table = sortRanges(spans)));
    const i = lastStartBefore(table.starts, read.view.byteOffset + read.view.byteLength);
    if (i >= 0 && table.maxEnd[i]! > read.view.byteOffset) return { read, write: table.argMax[i]! };
  }
  return undefined;
}

/** Two spans of `spans` that share a byte (the first such pair in memory order), or undefined. */
export function firstSelfOverlap<T>(spans: ReadonlyArray<Span<T>>): { a: Span<T>; b: Span<T> } | undefined {
  const byBuffer = new Map<ArrayBufferLike, Array<Span<T>>>();
  for (const s of spans) {
    if (s.view.byteLength === 0) continue;
    const list = byBuffer.get(s.view.buffer);
    if (list) list.push(s);
    else byBuffer.set(s.view.buffer, [s]);
  }
  for (const list of byBuffer.values()) {
    if (list.length < 2) continue;
    const { starts, maxEnd, argMax } = sortRanges(list);
    // Sorted by start: a range meets an earlier one exactly when it starts before their largest end.
    for (let i = 1; i < starts.length; i++) {
      if (starts[i]! < maxEnd[i - 1]!) return { a: argMax[i - 1]!, b: list[i]! };
    }
  }
  return undefined;
}

/**
 * The views a step writes, grouped by ArrayBuffer, each buffer's ranges sorted only when a read
 * first asks about it: built once per cached plan, it answers "does this grad meet anything the
 * step writes" in one binary search, so a plan whose grads change every step re-checks only the
 * grads that changed.
 */
export class WriteIndex {
  readonly #byBuffer = new Map<ArrayBufferLike, Array<Span<null>>>();

  constructor(views: Iterable<ArrayBufferView>) {
    for (const view of views) {
      if (view.byteLength === 0) continue;
      const list = this.#byBuffer.get(view.buffer);
      if (list) list.push({ view, tag: null });
      else this.#byBuffer.set(view.buffer, [{ view, tag: null }]);
    }
  }

  /** The sorted write ranges in `buffer`, or null when the step writes nothing there. */
  rangesIn(buffer: ArrayBufferLike): WriteRanges | null {
    const spans = this.#byBuffer.get(buffer);
    if (!spans) return null;
    const { starts, maxEnd } = sortRanges(spans);
    return { starts, maxEnd };
  }
}

/** One buffer's write ranges, as WriteIndex.rangesIn returns them. */
export interface WriteRanges {
  readonly starts: readonly number[];
  readonly maxEnd: readonly number[];
}

/** True if the byte range [offset, offset + length) meets one of `ranges`. */
export function meetsRanges(ranges: WriteRanges, offset: number, length: number): boolean {
  if (length === 0) return false;
  const i = lastStartBefore(ranges.starts, offset + length);
  return i >= 0 && ranges.maxEnd[i]! > offset;
}
