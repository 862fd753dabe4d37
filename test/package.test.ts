/**
 * What a user gets from `npm pack`: a tarball with dist/ and the native sources, which a project
 * can install (building the addon offline) and then `import` as ESM or `require` as CommonJS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'simd-adam-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error', npm_config_audit: 'false', npm_config_fund: 'false' } });

it('packs, installs into another project, and loads as ESM and as CommonJS', () => {
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], root)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed[0]!.files.map((f) => f.path);
  expect(files).toContain('dist/index.js');
  expect(files).toContain('dist/index.d.ts');
  expect(files).toContain('binding.gyp');
  expect(files).toContain('native/adam_avx512.cc');
  expect(files.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);

  const consumer = join(work, 'consumer');
  execFileSync('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  npm(['install', join(work, packed[0]!.filename)], consumer);
  expect(readdirSync(join(consumer, 'node_modules', 'simd-adam'))).toContain('dist');

  const script = `
    const w = new m.Parameter(new Float32Array([1, 2, 3]));
    const opt = new m.Adam([w], { lr: 0.1 });
    w.grad = new Float32Array([1, -1, 0]);
    opt.step();
    console.log(JSON.stringify({ backend: m.backend(), data: Array.from(w.data) }));`;
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e', `import * as m from 'simd-adam';${script}`], { cwd: consumer, encoding: 'utf8' });
  const cjs = execFileSync(process.execPath, ['--input-type=commonjs', '-e', `const m = require('simd-adam');${script}`], { cwd: consumer, encoding: 'utf8' });
  const result = JSON.parse(esm) as { backend: string; data: number[] };
  expect(result.data[0]).toBeCloseTo(0.9, 6);
  expect(result.data[2]).toBe(3);
  expect(JSON.parse(cjs)).toEqual(result);
}, 300_000);
