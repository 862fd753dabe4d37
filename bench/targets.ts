/**
 * The targets, each a ratio of two medians taken in one interleaved run: A, B, A, B, ...
 * so that load from other processes (this machine is shared) hits both sides alike. benny's
 * suites run cases one after the other, which a change of load in between would skew.
 */
import type { Buffers } from '../src/native/addon.js';
import { probes } from './probe_addon.js';
import { median, type ProbeArrays } from './roofline.js';

export interface Target {
  name: string;
  /** What is compared, as `a / b`. */
  ratio: string;
  a: number;
  b: number;
  value: number;
  goal: string;
  holds: boolean;
  rounds: number;
}

/** One timed run, in ns. */
export type Timed = () => number;

export function timeCall(fn: () => void): Timed {
  return () => {
    const start = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - start);
  };
}

export function timeProbe(kind: 'adam' | 'traffic', arrays: ProbeArrays, parallel: boolean): Timed {
  return () => probes().probe(kind, arrays.param, arrays.grad, arrays.expAvg, arrays.expAvgSq, 1, parallel)[0]!;
}

/** The traffic probe or the bare kernel over a plan's buffers, natively timed: one pass. */
export function timeProbePlan(kind: 'adam' | 'traffic', plan: { buffers: Buffers; table: Float64Array }, parallel: boolean): Timed {
  return () => probes().probePlan(kind, plan.buffers, plan.table, 1, parallel)[0]!;
}

/** Medians of `a` and `b` over `rounds` alternating runs, after one warm-up of each. */
export function interleave(a: Timed, b: Timed, rounds: number): { a: number; b: number } {
  a();
  b();
  const as: number[] = [], bs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      as.push(a());
      bs.push(b());
    } else {
      bs.push(b());
      as.push(a());
    }
  }
  return { a: median(as), b: median(bs) };
}

export function target(name: string, ratio: string, m: { a: number; b: number }, goal: '<=' | '>=', bound: number, rounds: number): Target {
  const value = m.a / m.b;
  return { name, ratio, a: m.a, b: m.b, value, goal: `${goal} ${bound}`, holds: goal === '<=' ? value <= bound : value >= bound, rounds };
}
