/** Loads the PyTorch conformance cases (test/fixtures/pytorch, mirrored from shared/). */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pytorch');

export interface TensorJson {
  shape: number[];
  data: number[];
}

export interface ExpectedState {
  step: number;
  exp_avg: number[];
  exp_avg_sq: number[];
  max_exp_avg_sq?: number[];
}

export interface CaseStep {
  grads: Array<number[] | null>;
  set_lr?: Record<string, number>;
  zero_moments?: true;
  expected: { params: number[][]; state: Array<ExpectedState | null> } | null;
  torch_state_dict?: unknown;
}

export interface ConformanceCase {
  name: string;
  description: string;
  optimizer: 'Adam' | 'AdamW';
  param_groups: Array<{
    params: number[];
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    amsgrad: boolean;
    maximize: boolean;
  }>;
  params_init: TensorJson[];
  steps: CaseStep[];
}

export function loadCases(): ConformanceCase[] {
  return readdirSync(fixturesDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(fixturesDir, f), 'utf8')) as ConformanceCase);
}

export function loadToolkit<T>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, 'toolkit', name), 'utf8')) as T;
}

/** The project's own recordings of PyTorch (test/fixtures/recorded, written by
 * scripts/record/pytorch_corners.py). */
export function loadRecorded<T>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, '..', 'recorded', name), 'utf8')) as T;
}

/** A recorded number: JSON has no inf or nan, so the recordings write them as strings. */
export function recordedNumber(value: number | string): number {
  if (typeof value === 'number') return value;
  const parsed = { inf: Infinity, '-inf': -Infinity, nan: NaN }[value];
  if (parsed === undefined) throw new Error(`not a recorded number: ${value}`);
  return parsed;
}
