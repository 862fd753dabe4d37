/**
 * The safetensors format, from its spec: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON (padded with spaces to a multiple of 8), then the raw little-endian tensor bytes.
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } relative to the
 * data section, plus an optional "__metadata__" of string → string. Offsets cover the data section
 * contiguously, without gaps or overlaps.
 *
 * The decoder treats its input as hostile: every length and offset is checked against the bytes
 * actually present before anything is sliced, decoded or allocated.
 */
import { SimdAdamError } from '../common/errors.js';

/** Bytes per element of every dtype the spec names. */
const DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The reference implementation refuses larger headers; so do we, before decoding one. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface RawTensor {
  dtype: string;
  shape: readonly number[];
  /** Little-endian bytes: on write, what goes to the file; on read, a view into the file. */
  bytes: Uint8Array;
}

export interface Safetensors {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

function fail(where: string, message: string): never {
  throw new SimdAdamError('ERR_CHECKPOINT', `${where}: ${message}`);
}

/** Lays the tensors out in the order given, contiguously from offset 0. */
export function encodeSafetensors({ tensors, metadata }: Safetensors): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerBytes = json.length + ((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + headerBytes + offset, 0x20);
  out.writeBigUInt64LE(BigInt(headerBytes), 0);
  json.copy(out, 8);
  let at = 8 + headerBytes;
  for (const t of tensors.values()) {
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  return out;
}

/** Parses and checks a whole file. Tensor bytes are views into `file`, made only once every
 * entry's dtype, shape and offsets have been checked. */
export function decodeSafetensors(file: Uint8Array, where: string): Safetensors {
  if (file.byteLength < 8) fail(where, `the file has ${file.byteLength} bytes, fewer than the 8 of the header length (truncated?)`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(file.byteLength - 8)) {
    fail(where, `the header length says ${declared} bytes but only ${file.byteLength - 8} follow (truncated, or not a safetensors file)`);
  }
  const headerBytes = Number(declared);
  if (headerBytes > MAX_HEADER_BYTES) fail(where, `the header length ${headerBytes} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (file[8] !== 0x7b || headerBytes === 0) fail(where, "the header must begin with '{', as the format requires");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerBytes)));
  } catch (error) {
    fail(where, `the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(where, 'the header must be a JSON object');
  }
  const dataStart = 8 + headerBytes;
  const dataLength = file.byteLength - dataStart;
  const metadata = readMetadata((header as Record<string, unknown>).__metadata__, where);
  const entries: Array<{ name: string; dtype: string; shape: number[]; begin: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const at = `tensor '${name}'`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(where, `${at}: expected { dtype, shape, data_offsets }`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype)) fail(where, `${at}: unknown dtype ${JSON.stringify(dtype)}`);
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
    if (elements * DTYPE_SIZES[dtype]! !== end - begin) {
      fail(where, `${at}: shape [${(shape as number[]).join(', ')}] of ${dtype} does not fill data_offsets [${begin}, ${end}] (${end - begin} bytes)`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
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
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: file.subarray(dataStart + e.begin, dataStart + e.end) });
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
