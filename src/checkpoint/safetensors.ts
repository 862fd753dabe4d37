/**
 * The safetensors format, from its spec: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON (padded with spaces to a multiple of 8), then the raw little-endian tensor bytes.
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } relative to the
 * data section, plus an optional "__metadata__" of string → string. Offsets cover the data section
 * contiguously, without gaps or overlaps.
 *
 * The header parser treats its input as hostile: every length and offset is checked against the
 * size of the data section actually present before anything is allocated. Tensor data is handled
 * as typed arrays in the host's byte order (one per dtype: F32 → Float32Array, BF16 → Uint16Array
 * of bf16 bits, U8 → Uint8Array, I64 → BigInt64Array, ...); the bytes are swapped at the file
 * boundary on a big-endian host.
 */
import { SimdAdamError } from '../common/errors.js';

type TypedArrayConstructor =
  | Float32ArrayConstructor | Float64ArrayConstructor | Uint8ArrayConstructor | Int8ArrayConstructor
  | Uint16ArrayConstructor | Int16ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor
  | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

/** Every dtype the spec names, with the typed array that holds its elements. */
const DTYPES: Readonly<Record<string, TypedArrayConstructor>> = {
  BOOL: Uint8Array, U8: Uint8Array, I8: Int8Array, F8_E5M2: Uint8Array, F8_E4M3: Uint8Array,
  I16: Int16Array, U16: Uint16Array, F16: Uint16Array, BF16: Uint16Array,
  I32: Int32Array, U32: Uint32Array, F32: Float32Array,
  I64: BigInt64Array, U64: BigUint64Array, F64: Float64Array,
};

/** The reference implementation refuses larger headers; so do we, before decoding one. */
export const MAX_HEADER_BYTES = 100_000_000;

/** V8 refuses typed arrays of more than 2^32 elements, whatever their element size. */
export const MAX_ELEMENTS = 2 ** 32;

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A tensor: its elements in the typed array of its dtype, in the host's byte order. */
export interface RawTensor {
  dtype: string;
  shape: readonly number[];
  data: ArrayBufferView;
}

export interface Safetensors {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Where a tensor's bytes sit in the data section, once the header has been checked. */
export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function fail(where: string, message: string): never {
  throw new SimdAdamError('ERR_CHECKPOINT', `${where}: ${message}`);
}

/** Bytes per element of a dtype the spec names, or undefined. */
export function dtypeSize(dtype: string): number | undefined {
  return Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype]!.BYTES_PER_ELEMENT : undefined;
}

/** A zeroed typed array of `elements` of `dtype`: where a tensor is read into. */
export function allocateTensor(dtype: string, elements: number): ArrayBufferView {
  return new DTYPES[dtype]!(elements);
}

/** Reverses each `width`-byte element of `bytes` in place (big-endian host ↔ file). */
export function swapInPlace(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.byteLength; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** The header's bytes: its length field, then the JSON padded with spaces to a multiple of 8.
 * Tensors are laid out in the order given, contiguously from offset 0. */
export function encodeHeader(tensors: Iterable<{ name: string; dtype: string; shape: readonly number[]; byteLength: number }>, metadata: Record<string, string>): { header: Uint8Array; dataLength: number } {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    // defineProperty: a tensor named __proto__ must stay a key.
    Object.defineProperty(header, t.name, { value: { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.byteLength] }, enumerable: true });
    offset += t.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return { header: out, dataLength: offset };
}

/** Checks the 8-byte length field against the file's size; returns the header's byte count. */
export function checkHeaderLength(first: Uint8Array, fileSize: number, where: string): number {
  if (fileSize < 8) fail(where, `the file has ${fileSize} bytes, fewer than the 8 of the header length (truncated?)`);
  const declared = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(fileSize - 8)) {
    fail(where, `the header length says ${declared} bytes but only ${fileSize - 8} follow (truncated, or not a safetensors file)`);
  }
  const headerBytes = Number(declared);
  if (headerBytes > MAX_HEADER_BYTES) fail(where, `the header length ${headerBytes} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  return headerBytes;
}

/** Parses and checks a header against the size of the data section that follows it: every entry's
 * dtype, shape and offsets, and that the entries cover the data section exactly. Returns the
 * entries in file order. Nothing is allocated beyond the header's own size. */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, where: string): { entries: TensorEntry[]; metadata: Record<string, string> } {
  if (headerBytes.byteLength === 0 || headerBytes[0] !== 0x7b) fail(where, "the header must begin with '{', as the format requires");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    fail(where, `the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(where, 'the header must be a JSON object');
  }
  const metadata = readMetadata((header as Record<string, unknown>).__metadata__, where);
  const entries: TensorEntry[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const at = `tensor '${name}'`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(where, `${at}: expected { dtype, shape, data_offsets }`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    const size = typeof dtype === 'string' ? dtypeSize(dtype) : undefined;
    if (size === undefined) fail(where, `${at}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(where, `${at}: shape must be an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(where, `${at}: data_offsets must be two non-negative integers [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      fail(where, `${at}: data_offsets [${begin}, ${end}] fall outside the ${dataLength}-byte data section`);
    }
    const elements = boundedProduct(shape as number[], dataLength);
    if (elements * size !== end - begin) {
      fail(where, `${at}: shape [${(shape as number[]).join(', ')}] of ${dtype as string} does not fill data_offsets [${begin}, ${end}] (${end - begin} bytes)`);
    }
    if (elements > MAX_ELEMENTS) {
      fail(where, `${at} has ${elements} elements, more than the 2^32 that a JavaScript typed array can hold (V8's limit)`);
    }
    entries.push({ name, dtype: dtype as string, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      fail(where, `tensor '${e.name}' starts at byte ${e.begin} of the data section where ${expected} was expected (${e.begin < expected ? 'overlap' : 'gap'})`);
    }
    expected = e.end;
  }
  if (expected !== dataLength) fail(where, `the tensors cover ${expected} of the ${dataLength} bytes of the data section`);
  return { entries, metadata };
}

/** Lays out a whole file in memory (small checkpoints and tests; files stream instead). */
export function encodeSafetensors({ tensors, metadata }: Safetensors): Uint8Array {
  const list = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength }));
  const { header, dataLength } = encodeHeader(list, metadata);
  const out = new Uint8Array(header.byteLength + dataLength);
  out.set(header);
  let at = header.byteLength;
  for (const t of tensors.values()) {
    const bytes = out.subarray(at, at + t.data.byteLength);
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    if (!LITTLE_ENDIAN) swapInPlace(bytes, dtypeSize(t.dtype)!);
    at += t.data.byteLength;
  }
  return out;
}

/** Parses and checks a whole file held in memory. Each tensor is copied into its own typed array,
 * made only once every entry's dtype, shape and offsets have been checked. */
export function decodeSafetensors(file: Uint8Array, where: string): Safetensors {
  const headerBytes = checkHeaderLength(file, file.byteLength, where);
  const dataStart = 8 + headerBytes;
  const { entries, metadata } = parseHeader(file.subarray(8, dataStart), file.byteLength - dataStart, where);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    const data = allocateTensor(e.dtype, (e.end - e.begin) / dtypeSize(e.dtype)!);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    bytes.set(file.subarray(dataStart + e.begin, dataStart + e.end));
    if (!LITTLE_ENDIAN) swapInPlace(bytes, dtypeSize(e.dtype)!);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** The product of the dimensions, or `limit + 1` as soon as it exceeds `limit`: a lying shape
 * must not overflow into a plausible number. */
function boundedProduct(shape: readonly number[], limit: number): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > limit) return limit + 1;
  }
  return n;
}

function readMetadata(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, '__metadata__ must be an object of strings');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(where, `__metadata__.${key} must be a string (the format allows string values only)`);
    // defineProperty: a key named __proto__ must stay a key.
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
