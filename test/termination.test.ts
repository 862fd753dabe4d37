/** Worker termination never takes the process down: a child process starts workers that run
 * step, stepAsync, clipGradNorm or explain (guard on and off, 1 and 2 threads) and terminates
 * each at a random moment (test/support/terminate-workers.ts); a crash or abort would show as
 * the child's exit status or signal. SIMD_ADAM_TERMINATIONS sets the number of rounds (100 for
 * the acceptance run); under test:sanitize the child loads the sanitized addon. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.env.SIMD_ADAM_TERMINATIONS ?? 24);

describe('worker termination', () => {
  it(`survives ${rounds} workers terminated at random points of a step, stepAsync, clipGradNorm or explain`, () => {
    const seed = Number(process.env.SIMD_ADAM_TERMINATION_SEED ?? Date.now() % 100000);
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/terminate-workers.ts', String(rounds), String(seed)], {
      cwd: root,
      encoding: 'utf8',
      timeout: 600_000,
    });
    const tail = `seed ${seed}\n${child.stderr.slice(-4000)}`;
    expect({ status: child.status, signal: child.signal }, tail).toEqual({ status: 0, signal: null });
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { rounds: number; counts: Record<string, number> };
    expect(report.rounds).toBe(rounds);
    expect(Object.values(report.counts).reduce((a, b) => a + b, 0)).toBe(rounds);
  }, 660_000);
});
