/** Small predicates and message helpers: precise errors that name the argument, what was
 * expected and what came. */
import { rangeError, typeError, type ErrorCode } from './errors.js';

/** How a value looks in an error message: `a Float64Array of length 3`, `NaN`, `undefined`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor?.name ?? 'typed array';
    return 'length' in value ? `a ${name} of length ${(value as { length: number }).length}` : `a ${name}`;
  }
  if (value instanceof ArrayBuffer) return `an ArrayBuffer of ${value.byteLength} bytes`;
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

export function isFloat32Array(value: unknown): value is Float32Array {
  return value instanceof Float32Array;
}

/** True if the view's ArrayBuffer was detached (transferred by postMessage or structuredClone,
 * or by ArrayBuffer.prototype.transfer). Such a view reports length 0, so a length check alone
 * mistakes it for an empty tensor. Node 20 has no ArrayBuffer.prototype.detached: a new view
 * over a detached buffer throws, over an empty live one it does not. */
export function isDetached(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0 || view.buffer.byteLength !== 0 || !(view.buffer instanceof ArrayBuffer)) return false;
  try {
    new Uint8Array(view.buffer);
    return false;
  } catch {
    return true;
  }
}

/** True if the view's buffer can change length (a resizable ArrayBuffer or a growable
 * SharedArrayBuffer): a resize() under a running step would leave native threads writing past
 * its end, so every entry point refuses such buffers (code ERR_RESIZABLE). */
export function isResizable(view: ArrayBufferView): boolean {
  const buffer = view.buffer as { resizable?: boolean; growable?: boolean };
  return buffer.resizable === true || buffer.growable === true;
}

/** True if the two views share at least one byte of the same buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function snakeToCamel(key: string): string {
  return key.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The allowed key a misspelt one most likely meant: PyTorch's snake_case spelling first, then
 * case, then a small edit distance. */
export function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  const camel = snakeToCamel(key);
  const exact = allowed.find((k) => k === camel || k.toLowerCase() === key.toLowerCase() || k.toLowerCase() === camel.toLowerCase());
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of allowed) {
    const d = editDistance(camel.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(camel.length / 3)) ? best : undefined;
}

/** Rejects keys not in `allowed`: silently ignoring `{ weight_decay: 0.1 }` would be the
 * frozen-parameter trap all over again. `hints` maps a known foreign key (a PyTorch-only option)
 * to the advice shown instead of a "did you mean". */
export function checkKeys(
  options: object,
  allowed: readonly string[],
  where: string,
  code: ErrorCode = 'ERR_OPTION',
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
    const suggestion = hint === undefined ? suggestKey(key, allowed) : undefined;
    throw typeError(
      code,
      `${where}: unknown option '${key}'` +
        (hint !== undefined ? `; ${hint}` : suggestion ? ` (did you mean ${suggestion}?)` : '') +
        `; expected one of ${allowed.join(', ')}`,
    );
  }
}

/** A plain object (or undefined → {}); anything else is a TypeError naming `where`. */
export function checkOptionsObject(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError('ERR_OPTION', `${where}: expected an options object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export interface NumberRule {
  /** Lower bound; `min` itself is allowed unless `minExclusive`. */
  min?: number;
  minExclusive?: boolean;
  /** Upper bound; `max` itself is excluded unless `maxInclusive`. */
  max?: number;
  maxInclusive?: boolean;
  integer?: boolean;
}

function ruleText(rule: NumberRule): string {
  const parts: string[] = [rule.integer ? 'an integer' : 'a finite number'];
  if (rule.min !== undefined && rule.max !== undefined) {
    parts.push(`in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}${rule.maxInclusive ? ']' : ')'}`);
    return parts.join(' ');
  }
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`${rule.maxInclusive ? '<=' : '<'} ${rule.max}`);
  return parts.join(' ');
}

/** A finite number within `rule`: TypeError if not a number, RangeError if out of range. */
export function checkNumber(value: unknown, name: string, where: string, rule: NumberRule = {}): number {
  if (typeof value !== 'number') {
    throw typeError('ERR_OPTION', `${where}: ${name} must be ${ruleText(rule)}, got ${describe(value)}`);
  }
  const ok =
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.min === undefined || (rule.minExclusive ? value > rule.min : value >= rule.min)) &&
    (rule.max === undefined || (rule.maxInclusive ? value <= rule.max : value < rule.max));
  if (!ok) throw rangeError('ERR_OPTION', `${where}: ${name} must be ${ruleText(rule)}, got ${describe(value)}`);
  return value;
}

export function checkBoolean(value: unknown, name: string, where: string): boolean {
  if (typeof value !== 'boolean') {
    throw typeError('ERR_OPTION', `${where}: ${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}
