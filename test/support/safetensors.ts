/**
 * A second, minimal safetensors implementation written from the spec
 * (https://github.com/huggingface/safetensors#format), independent of src/checkpoint: it checks
 * the files we write, and builds the lying and truncated files the corruption table feeds back.
 */

export interface SpecTensor {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  bytes: Uint8Array;
}

export interface SpecFile {
  headerLength: number;
  header: Record<string, unknown>;
  metadata: Record<string, string> | undefined;
  tensors: Map<string, SpecTensor>;
}

const SIZES: Record<string, number> = { F32: 4, F64: 8, I64: 8 };

/** Parses a file strictly by the spec; throws a plain Error on any deviation. */
export function parseSpec(file: Uint8Array): SpecFile {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n % 8 !== 0) throw new Error(`header length ${n} is not a multiple of 8`);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + n));
  if (!text.startsWith('{')) throw new Error('header does not start with {');
  if (!/^[^]*\}\x20*$/.test(text)) throw new Error('header padding must be spaces after the closing }');
  const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = file.subarray(8 + n);
  const tensors = new Map<string, SpecTensor>();
  const ranges: Array<[number, number]> = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const size = SIZES[info.dtype];
    if (size === undefined) throw new Error(`${name}: dtype ${info.dtype}`);
    if (info.shape.reduce((a, b) => a * b, 1) * size !== end - begin) throw new Error(`${name}: shape does not fill its bytes`);
    ranges.push([begin, end]);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, begin, end, bytes: data.subarray(begin, end) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [begin, end] of ranges) {
    if (begin !== at) throw new Error(`data not contiguous at ${at}`);
    at = end;
  }
  if (at !== data.byteLength) throw new Error(`data section has ${data.byteLength} bytes, tensors cover ${at}`);
  const metadata = (header as Record<string, unknown>).__metadata__ as Record<string, string> | undefined;
  for (const v of Object.values(metadata ?? {})) if (typeof v !== 'string') throw new Error('metadata value is not a string');
  return { headerLength: n, header, metadata, tensors };
}

export function f32(t: SpecTensor): Float32Array {
  const out = new Float32Array(t.bytes.byteLength / 4);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function i64(t: SpecTensor): bigint {
  return new DataView(t.bytes.buffer, t.bytes.byteOffset, 8).getBigInt64(0, true);
}

/** Assembles a file from a header (object or raw text) and a data section. `declaredLength`
 * overrides the length field, to make it lie. */
export function buildFile(header: object | string, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  while (Buffer.byteLength(text) % 8 !== 0) text += ' ';
  const json = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + json.length + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

export function f32Data(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, i) => new DataView(out.buffer).setFloat32(i * 4, v, true));
  return out;
}

export function i64Data(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, true);
  return out;
}

export function f64Data(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value, true);
  return out;
}
