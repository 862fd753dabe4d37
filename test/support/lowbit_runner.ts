/**
 * Runs the reduced-precision conformance cases (test/fixtures/pytorch/lowbit, recorded with
 * PyTorch's Adam on the dequantized state): each case is one step from a recorded state, loaded
 * through loadStateDict; `trajectory` runs freely from params_init.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Adam, AdamW, Parameter, type AdamState } from '../../src/index.js';
import type { Q8Moment } from '../../src/reference/adam_lowbit.js';
import { firstMismatch } from './compare.js';
import { fixturesDir, type ConformanceCase } from './fixtures.js';
import { groupSpec } from './runner.js';

export const lowbitDir = join(fixturesDir, 'lowbit');

type Num = number | string;
export type MomentJson =
  | { shape: number[]; data: Num[] }
  | { shape: number[]; dtype: 'bfloat16'; bits: number[] }
  | { shape: number[]; dtype: '8bit'; codes: number[]; scale: Num[] };
export interface EntryJson {
  step: number;
  exp_avg: MomentJson;
  exp_avg_sq: MomentJson;
  max_exp_avg_sq?: MomentJson;
}
type Fragile = Partial<Record<'exp_avg' | 'exp_avg_sq' | 'max_exp_avg_sq', number[]>> | null;

export interface LowbitCase {
  name: string;
  optimizer: 'Adam' | 'AdamW';
  param_groups: Array<ConformanceCase['param_groups'][number] & { state_dtype: 'float32' | 'bfloat16' | '8bit'; min_8bit_size: number }>;
  cases: Array<{
    name: string;
    params_before: Array<{ shape: number[]; data: Num[] }>;
    state_before: Array<EntryJson | null>;
    grads: Array<Num[] | null>;
    expected: { params: Array<{ shape: number[]; data: Num[] }>; state: Array<EntryJson | null> };
    fragile: Fragile[];
  }>;
  trajectory: { params_init: Array<{ shape: number[]; data: Num[] }>; grads: Array<Array<Num[] | null>>; final_params: Array<{ data: Num[] }>; rtol: number; atol: number };
}

export function loadLowbitCases(): LowbitCase[] {
  return readdirSync(lowbitDir)
    .filter((f) => f.startsWith('lowbit_') && f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(lowbitDir, f), 'utf8')) as LowbitCase);
}

/** "NaN", "Infinity", "-Infinity" as numbers. */
export function num(values: readonly Num[]): number[] {
  return values.map((v) => (typeof v === 'number' ? v : Number(v)));
}

function build(c: LowbitCase, data: ReadonlyArray<{ shape: number[]; data: Num[] }>): { opt: Adam; params: Parameter[] } {
  const params = data.map((t, i) => new Parameter(Float32Array.from(num(t.data)), { name: `p${i}`, shape: t.shape }));
  const groups = c.param_groups.map((g) => ({ ...groupSpec(g, params), stateDtype: g.state_dtype, min8bitSize: g.min_8bit_size }));
  return { opt: c.optimizer === 'AdamW' ? new AdamW(groups) : new Adam(groups), params };
}

function entryForLoad(e: EntryJson): Record<string, unknown> {
  const moment = (m: MomentJson | undefined) => (m && 'data' in m ? { shape: m.shape, data: num(m.data) } : m);
  const out: Record<string, unknown> = { step: e.step, exp_avg: moment(e.exp_avg), exp_avg_sq: moment(e.exp_avg_sq) };
  if (e.max_exp_avg_sq) out.max_exp_avg_sq = moment(e.max_exp_avg_sq);
  return out;
}

/** Ours against a recorded moment: codes and bf16 bits exactly (an index in `fragile` may be
 * one code or one bf16 unit off), scales and float32 values within the numerics tolerance. */
function compareMoment(ours: AdamState['expAvg'] | undefined, ref: MomentJson, fragile: readonly number[]): string | null {
  if (!ours) return 'missing';
  const near = new Set(fragile);
  const exact = (a: ArrayLike<number>, b: readonly number[], what: string, isNan?: (x: number) => boolean): string | null => {
    if (a.length !== b.length) return `${what} length ${a.length}, expected ${b.length}`;
    for (let i = 0; i < b.length; i++) {
      if (a[i] === b[i] || (isNan && isNan(a[i]!) && isNan(b[i]!))) continue;
      if (near.has(i) && Math.abs(a[i]! - b[i]!) === 1) continue;
      return `${what}[${i}] ${a[i]}, expected ${b[i]}`;
    }
    return null;
  };
  if ('bits' in ref) {
    if (!(ours instanceof Uint16Array)) return 'not bfloat16';
    return exact(ours, ref.bits, 'bits', (b) => (b & 0x7fff) > 0x7f80);
  }
  if ('codes' in ref) {
    if (ours instanceof Float32Array || ours instanceof Uint16Array) return 'not 8bit';
    const q = ours as Q8Moment;
    const bad = exact(q.codes, ref.codes, 'codes');
    const scale = firstMismatch(q.scale, num(ref.scale));
    return bad ?? (scale && `scale ${scale}`);
  }
  if (!(ours instanceof Float32Array)) return 'not float32';
  return firstMismatch(ours, num(ref.data));
}

/** Every problem with one case of `c` on the current backend (empty when conformant). */
export function runLowbitCase(c: LowbitCase, k: number): string[] {
  const cs = c.cases[k]!;
  const { opt, params } = build(c, cs.params_before);
  const state: Record<number, unknown> = {};
  cs.state_before.forEach((e, i) => {
    if (e) state[i] = entryForLoad(e);
  });
  const param_groups = c.param_groups.map((g) => ({ ...g, weight_decay: g.weight_decay, params: g.params }));
  opt.loadStateDict({ state, param_groups });
  params.forEach((p, i) => (p.grad = cs.grads[i] === null ? null : Float32Array.from(num(cs.grads[i]!))));
  opt.step();
  const problems: string[] = [];
  const at = `${c.name}/${cs.name}`;
  cs.expected.params.forEach((ref, i) => {
    const bad = firstMismatch(params[i]!.data, num(ref.data));
    if (bad) problems.push(`${at}: param ${i} ${bad}`);
  });
  cs.expected.state.forEach((ref, i) => {
    const ours = opt.state.get(params[i]!);
    if (!ref) return void (ours && cs.state_before[i] === null && problems.push(`${at}: param ${i} has state, PyTorch none`));
    if (!ours) return void problems.push(`${at}: param ${i} has no state`);
    if (ours.step !== ref.step) problems.push(`${at}: param ${i} step ${ours.step}, expected ${ref.step}`);
    for (const [key, ourKey] of [['exp_avg', 'expAvg'], ['exp_avg_sq', 'expAvgSq'], ['max_exp_avg_sq', 'maxExpAvgSq']] as const) {
      if (!ref[key]) continue;
      const bad = compareMoment(ours[ourKey], ref[key]!, cs.fragile[i]?.[key] ?? []);
      if (bad) problems.push(`${at}: param ${i} ${key}: ${bad}`);
    }
  });
  return problems;
}

/** The free-running trajectory: final parameters within |ours − ref| <= atol + rtol·|ref|. */
export function runLowbitTrajectory(c: LowbitCase): string[] {
  const t = c.trajectory;
  const { opt, params } = build(c, t.params_init);
  for (const grads of t.grads) {
    params.forEach((p, i) => (p.grad = grads[i] === null || grads[i] === undefined ? null : Float32Array.from(num(grads[i]!))));
    opt.step();
  }
  const problems: string[] = [];
  t.final_params.forEach((ref, i) => {
    const r = num(ref.data);
    const ours = params[i]!.data;
    for (let j = 0; j < r.length; j++) {
      const ok = Number.isNaN(r[j]!) ? Number.isNaN(ours[j]!) : Math.abs(ours[j]! - r[j]!) <= t.atol + t.rtol * Math.abs(r[j]!);
      if (!ok) return void problems.push(`${c.name} trajectory: param ${i}[${j}] ${ours[j]}, expected ${r[j]}`);
    }
  });
  return problems;
}
