/**
 * Reduced-precision state against PyTorch, on every backend ('js' is the TypeScript reference):
 * each recorded case loads its state through loadStateDict (float32, bfloat16 or 8-bit,
 * converted into the group's format), steps once, and must store the recorded codes and bits.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend } from '../src/index.js';
import { loadLowbitCases, runLowbitCase, runLowbitTrajectory } from './support/lowbit_runner.js';

const files = loadLowbitCases();
const initial = backend();
afterAll(() => setBackend(initial));

const cases = files.flatMap((f) => f.cases.map((c, k) => [`${f.name}/${c.name}`, f, k] as const));

describe.each(availableBackends())('reduced-precision conformance on the %s backend', (name) => {
  it.each(cases)('%s stores what PyTorch stored after one step', (_, f, k) => {
    setBackend(name);
    expect(runLowbitCase(f, k)).toEqual([]);
  });

  it.each(files.map((f) => [f.name, f] as const))('%s: the free-running trajectory ends where PyTorch did', (_, f) => {
    setBackend(name);
    expect(runLowbitTrajectory(f)).toEqual([]);
  });
});

it('the cases cover both formats, every flag, the size threshold and conversion from float32', () => {
  const groups = files.flatMap((f) => f.param_groups);
  expect(new Set(groups.map((g) => g.state_dtype))).toEqual(new Set(['float32', 'bfloat16', '8bit']));
  expect(groups.some((g) => g.amsgrad && g.state_dtype === '8bit')).toBe(true);
  expect(groups.some((g) => g.maximize)).toBe(true);
  expect(files.some((f) => f.optimizer === 'AdamW')).toBe(true);
  expect(files.some((f) => f.cases.some((c) => c.name === 'from_float32_state'))).toBe(true);
});
