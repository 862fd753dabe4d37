/**
 * `npm run demo`, shrunk by SIMD_ADAM_DEMO_QUICK=1: it trains, shows the frozen-parameter trap in
 * numbers, and writes its chart: the loss curves beside the frozen layer's drift per step.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';


const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'simd-adam-demo-'));
const chart = join(work, 'charts', 'loss.svg');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the demo (quick mode)', () => {
  let output = '';
  beforeAll(() => {
    output = execFileSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, SIMD_ADAM_DEMO_QUICK: '1', SIMD_ADAM_DEMO_OUT: chart, NO_COLOR: '1' },
    });
  }, 60_000);

  const driftRow = (method: string) => {
    const row = output.split('\n').find((line) => line.trimStart().startsWith(`${method} `) && /(yes|NO) /.test(line));
    expect(row, `a drift row for ${method}`).toBeDefined();
    const [maxAbs, relativeL2, same] = row!.trim().slice(method.length).trim().split(/\s+/);
    return { maxAbs: Number(maxAbs), relativeL2: Number(relativeL2), same };
  };

  it('lowers the training loss in phase 1', () => {
    const match = /loss (\d+\.\d+) → (\d+\.\d+)/.exec(output);
    expect(match).not.toBeNull();
    expect(Number(match![2])).toBeLessThan(Number(match![1]) * 0.7);
  });

  it('shows zero-filled grads moving the frozen layer, and the other two ways leaving it bit for bit', () => {
    const zeroed = driftRow('zeroed gradients');
    expect(zeroed.maxAbs).toBeGreaterThan(0);
    expect(zeroed.relativeL2).toBeGreaterThan(0);
    expect(zeroed.same).toBe('NO');
    for (const method of ['grad = null', 'requiresGrad = false']) {
      expect(driftRow(method)).toEqual({ maxAbs: 0, relativeL2: 0, same: 'yes' });
    }
  });

  it("prints explain()'s verdict on the frozen layer for each way of freezing", () => {
    expect(output).toMatch(/fc1\.weight\s+group 0\s+update\s+\(zero-grad-(weight-decay|momentum)\)/);
    expect(output).toMatch(/fc1\.weight\s+group 0\s+skip\s+\(no-grad\)/);
    expect(output).toMatch(/fc1\.weight\s+group 0\s+skip\s+\(frozen\)/);
  });

  it('writes a standalone SVG chart and prints its path', () => {
    expect(output).toContain(`Chart (loss curves, and the frozen layer's drift per step): ${chart}`);
    expect(existsSync(chart)).toBe(true);
    const svg = readFileSync(chart, 'utf8');
    expect(svg).toMatch(/^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // Nothing fetched from elsewhere.
    expect(svg).not.toMatch(/href=|<script/);
  });

  /** The `<g data-panel="id">` group of the chart, and the series drawn in it: name → [x, y][]. */
  const panel = (id: string) => {
    const svg = readFileSync(chart, 'utf8');
    const group = new RegExp(`<g data-panel="${id}"[^>]*>([\\s\\S]*?)\\n\\s*</g>`).exec(svg);
    expect(group, `panel ${id}`).not.toBeNull();
    const series = new Map<string, Array<[number, number]>>();
    for (const m of group![1]!.matchAll(/<path d="([^"]+)"[^>]*data-series="([^"]+)"/g)) {
      series.set(m[2]!, m[1]!.split(' ').map((p) => p.slice(1).split(',').map(Number) as [number, number]));
    }
    return { text: group![1]!, series };
  };

  it('draws the loss curves: phase 1 and one per way of freezing', () => {
    expect([...panel('loss').series.keys()]).toEqual([
      'phase 1: all layers',
      'phase 2: zeroed gradients',
      'phase 2: grad = null',
      'phase 2: requiresGrad = false',
    ]);
  });

  it("draws the frozen layer's drift beside them: zeroed grads climb, null and frozen lie on the 0 floor", () => {
    const { text, series } = panel('drift');
    expect([...series.keys()]).toEqual(['zeroed gradients', 'grad = null: 0, bit for bit', 'requiresGrad = false: 0, bit for bit']);
    const floor = /<line [^>]*y1="([\d.]+)"[^>]*\/>\s*<text [^>]*>0 \(bit for bit\)<\/text>/.exec(text);
    expect(floor, 'a floor line labelled "0 (bit for bit)"').not.toBeNull();
    const floorY = Number(floor![1]);
    const zeroed = series.get('zeroed gradients')!;
    // SVG y grows downwards: climbing means a smaller y at the end, and off the floor throughout.
    expect(zeroed.length).toBeGreaterThan(10);
    expect(zeroed.every(([, y]) => y < floorY)).toBe(true);
    expect(zeroed.at(-1)![1]).toBeLessThan(zeroed[0]![1]);
    for (const name of ['grad = null: 0, bit for bit', 'requiresGrad = false: 0, bit for bit']) {
      const points = series.get(name)!;
      expect(points).toHaveLength(zeroed.length);
      expect(points.every(([, y]) => y === floorY)).toBe(true);
    }
  });
});

describe('the demo with --state (quick mode)', () => {
  let output = '';
  beforeAll(() => {
    output = execFileSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--state'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, SIMD_ADAM_DEMO_QUICK: '1', NO_COLOR: '1' },
    });
  }, 90_000);

  const dtypes = ['float32', 'bfloat16', '8bit'];

  /** The per-seed table: seed → accuracy (in %) per format. */
  const perSeed = () => {
    const rows = output.split('\n').filter((l) => /^\s+\d+\s+(\d+\.\d+%\s*){3}$/.test(l));
    return new Map(rows.map((l) => {
      const [seed, ...accuracies] = l.trim().split(/\s+/);
      return [Number(seed), accuracies.map((a) => parseFloat(a))] as const;
    }));
  };

  /** A format's summary row: mean accuracy, mean difference to float32 ± its standard error, bytes. */
  const summary = (dtype: string) => {
    const line = output.split('\n').find((l) => l.trimStart().startsWith(`${dtype} `) && l.includes('% '));
    expect(line, `a summary row for ${dtype}`).toBeDefined();
    const m = /^\s*\S+\s+(\d+\.\d+)%\s+([+-]\d+\.\d+) ± (\d+\.\d+) pt\s.*?(\d+\.\d+)$/.exec(line!);
    expect(m, line).not.toBeNull();
    return { accuracy: Number(m![1]), diff: Number(m![2]), se: Number(m![3]), bytes: Number(m![4]) };
  };

  it('trains each state format once per seed, the seeds counting up from the demo\'s own', () => {
    const table = perSeed();
    expect([...table.keys()]).toEqual([2024, 2025]);
    // One quick epoch: well above chance (10%).
    for (const accuracies of table.values()) for (const a of accuracies) expect(a).toBeGreaterThan(50);
  });

  it('summarises each format as the mean over seeds of its paired difference to float32, with the standard error', () => {
    const table = [...perSeed().values()];
    dtypes.forEach((dtype, k) => {
      const diffs = table.map((row) => row[k]! - row[0]!);
      const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
      const se = Math.sqrt(diffs.reduce((a, d) => a + (d - mean) ** 2, 0) / (diffs.length - 1) / diffs.length);
      const row = summary(dtype);
      // Printed with two decimals: within half a unit of the last one.
      const printedAs = (printed: number, value: number) => expect(Math.abs(printed - value)).toBeLessThanOrEqual(0.005 + 1e-9);
      printedAs(row.accuracy, table.reduce((a, r) => a + r[k]!, 0) / table.length);
      printedAs(row.diff, mean);
      printedAs(row.se, se);
    });
  });

  it('prints the state bytes per parameter of each format', () => {
    const [f32, bf16, q8] = dtypes.map(summary);
    expect(f32!.bytes).toBe(8);
    expect(bf16!.bytes).toBe(4);
    // fc1 and fc2 store 8 bits (about 2 bytes); the biases and fc3 (< min8bitSize) keep float32.
    expect(q8!.bytes).toBeGreaterThan(2);
    expect(q8!.bytes).toBeLessThan(2.2);
  });
});
