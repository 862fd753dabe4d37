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

  it('trains with each state format and prints accuracy and state bytes per parameter side by side', () => {
    const row = (dtype: string) => {
      const line = output.split('\n').find((l) => l.trimStart().startsWith(`${dtype} `) && l.includes('%'));
      expect(line, `a row for ${dtype}`).toBeDefined();
      const [accuracy, , , bytes] = line!.trim().slice(dtype.length).trim().split(/\s+/);
      return { accuracy: parseFloat(accuracy!), bytes: Number(bytes) };
    };
    const [f32, bf16, q8] = [row('float32'), row('bfloat16'), row('8bit')];
    expect(f32.bytes).toBe(8);
    expect(bf16.bytes).toBe(4);
    // fc1 and fc2 store 8 bits (about 2 bytes); the biases and fc3 (< min8bitSize) keep float32.
    expect(q8.bytes).toBeGreaterThan(2);
    expect(q8.bytes).toBeLessThan(2.2);
    for (const r of [f32, bf16, q8]) expect(r.accuracy).toBeGreaterThan(50); // one quick epoch: well above chance (10%)
  });
});
