/** `npm run demo:tfjs`, shrunk by SIMD_ADAM_DEMO_QUICK=1: both optimizers train the same tfjs
 * model, the table has both, and the chart has both curves. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'simd-adam-tfjs-demo-'));
const chart = join(work, 'tfjs.svg');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the tfjs demo (quick mode)', () => {
  let output = '';
  beforeAll(() => {
    output = execFileSync(process.execPath, ['--import', 'tsx', 'examples/tfjs/demo.ts'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, SIMD_ADAM_DEMO_QUICK: '1', SIMD_ADAM_DEMO_OUT: chart, NO_COLOR: '1' },
    });
  }, 120_000);

  /** The result row whose optimizer column starts with `prefix`. */
  const row = (prefix: string) => {
    const line = output.split('\n').find((l) => l.trimStart().startsWith(prefix) && l.trimEnd().endsWith('%'));
    expect(line, `a result row for ${prefix}`).toBeDefined();
    const [, epochS, stepMs, , accuracy] = line!.trim().split(/\s{2,}/);
    return { epochS: Number(epochS), stepMs: Number(stepMs), accuracy: Number(accuracy!.replace('%', '')) / 100 };
  };

  it('trains the model with SimdAdamW and with tf.train.adam, both learning the digits', () => {
    for (const prefix of ['SimdAdamW(', 'tf.train.adam(']) {
      const r = row(prefix);
      expect(r.epochS).toBeGreaterThan(0);
      expect(r.stepMs).toBeGreaterThan(0);
      // Ten classes: chance is 10%; one short epoch gets well past it.
      expect(r.accuracy).toBeGreaterThan(0.5);
    }
  });

  it('writes both loss curves', () => {
    const svg = readFileSync(chart, 'utf8');
    expect(svg.match(/<path d="M/g)).toHaveLength(2);
    expect(svg).toContain('SimdAdamW');
    expect(svg).toContain('tf.train.adam');
  });
});
