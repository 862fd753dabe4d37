/**
 * Resume conformance: every recorded step that carries PyTorch's own state dict is resumed in a
 * fresh optimizer, over that step's parameters, and must continue on the recorded trajectory.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend, type StateDictInput } from '../src/index.js';
import { loadCases } from './support/fixtures.js';
import { buildOptimizer, runSteps } from './support/runner.js';

const initial = backend();
afterAll(() => setBackend(initial));

const resumePoints = loadCases().flatMap((c) =>
  c.steps.flatMap((step, k) => (step.torch_state_dict === undefined ? [] : [[`${c.name} after step ${k}`, c, k] as const])),
);

it('some fixture records a PyTorch state dict to resume from', () => {
  expect(resumePoints.length).toBeGreaterThan(0);
});

describe.each(availableBackends())('resuming from PyTorch state dicts on the %s backend', (name) => {
  it.each(resumePoints)('%s continues on the recorded trajectory', (_, c, k) => {
    setBackend(name);
    const step = c.steps[k]!;
    expect(step.expected, 'a resume point must record the parameters').not.toBeNull();
    const { opt, params } = buildOptimizer(c, step.expected!.params);
    opt.loadStateDict(step.torch_state_dict as StateDictInput);
    expect(runSteps(c, opt, params, k + 1)).toEqual([]);
  });
});
