/** Long training runs create and drop optimizers and state: nothing may accumulate. */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

it('100k cycles of create, step, snapshot and drop keep RSS within 20 MB of the start', () => {
  const cycles = Number(process.env.SIMD_ADAM_LEAK_CYCLES ?? 100_000);
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/support/leak-cycles.ts', String(cycles)], {
    cwd: root,
    encoding: 'utf8',
  });
  const { startMb, middleMb, endMb } = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
  // Under `npm run test:sanitize` the cycles run against the sanitized addon, but ASan's
  // quarantine and shadow memory make RSS meaningless: the bounds hold for the plain build.
  if (process.env.SIMD_ADAM_SANITIZE_RUN) return;
  expect(endMb! - startMb!).toBeLessThan(20);
  // A leak grows with the cycle count; a steady heap does not grow between half-way and the end.
  expect(endMb! - middleMb!).toBeLessThan(10);
}, 180_000);
