/**
 * What a user gets from `npm pack`: a tarball with dist/, the native sources and, built at pack
 * time, a prebuilt addon for this platform. Installing it needs no compiler here; where no
 * prebuild fits and there is no compiler, the install fails with one message saying what to install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'simd-adam-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const quiet = { npm_config_loglevel: 'error', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());

// A PATH holding node and a shell (npm runs scripts with sh), and nothing else: no c++, make or
// python3, as on a machine without build tools.
const bareBin = join(work, 'bare-bin');
mkdirSync(bareBin);
symlinkSync(process.execPath, join(bareBin, 'node'));
symlinkSync(realpathSync(execFileSync('sh', ['-c', 'command -v sh'], { encoding: 'utf8' }).trim()), join(bareBin, 'sh'));
// The installed package must load the addon it installed, not the one SIMD_ADAM_ADDON points
// this checkout at (npm run test:sanitize sets it).
const { SIMD_ADAM_ADDON: _addon, ...inherited } = process.env;
const bareEnv = { ...inherited, ...quiet, PATH: bareBin };

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = { ...inherited, ...quiet }) =>
  spawnSync(process.execPath, [npmCli, ...args], { cwd, env, encoding: 'utf8' });

const USE = `
  const w = new m.Parameter(new Float32Array([1, 2, 3]));
  const opt = new m.Adam([w], { lr: 0.1 });
  w.grad = new Float32Array([1, -1, 0]);
  opt.step();
  console.log(JSON.stringify({ backend: m.backend(), data: Array.from(w.data) }));`;

describe('the packed tarball', () => {
  const prebuild = `prebuilds/${process.platform}-${process.arch}/simd-adam.node`;
  const consumer = join(work, 'consumer');
  let files: string[] = [];
  let tarball = '';

  beforeAll(() => {
    const packed = npm(['pack', '--json', '--pack-destination', work], root);
    expect(packed.status, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info!.files.map((f) => f.path);
    tarball = join(work, info!.filename);
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  }, 120_000);

  it('carries dist/, the native sources and a prebuilt addon for this platform, and nothing from src/ or test/', () => {
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/tfjs/index.js');
    expect(files).toContain('dist/tfjs/index.d.ts');
    expect(files).toContain('binding.gyp');
    expect(files).toContain('CMakeLists.txt');
    // The README's links into docs/ resolve inside the installed package too.
    expect(files).toContain('docs/api.md');
    expect(files).toContain('native/kernels/adam_step_f32_avx512.cc');
    expect(files).toContain(prebuild);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('build/'))).toBe(false);
    // The prebuild is made for the tarball, not left in the working tree.
    expect(existsSync(join(root, 'prebuilds'))).toBe(false);
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'installs on linux-x64 with no compiler on PATH, and loads as ESM and as CommonJS',
    () => {
      for (const tool of ['c++', 'g++', 'make', 'python3']) expect(existsSync(join(bareBin, tool))).toBe(false);
      const install = npm(['install', tarball], consumer, bareEnv);
      expect(install.status, install.stderr).toBe(0);
      const installed = join(consumer, 'node_modules', 'simd-adam');
      expect(readdirSync(installed)).toContain('dist');
      expect(existsSync(join(installed, 'build')), 'nothing was compiled').toBe(false);

      const run = (type: string, head: string) =>
        execFileSync(process.execPath, [`--input-type=${type}`, '-e', `${head};${USE}`], { cwd: consumer, encoding: 'utf8', env: bareEnv });
      const esm = JSON.parse(run('module', "import * as m from 'simd-adam'")) as { backend: string; data: number[] };
      const cjs = JSON.parse(run('commonjs', "const m = require('simd-adam')")) as unknown;
      expect(esm.data[0]).toBeCloseTo(0.9, 6);
      expect(esm.data[2]).toBe(3);
      expect(cjs).toEqual(esm);
    },
    120_000,
  );

  it('without a fitting prebuild and without a compiler, fails the install with one message saying what to install', () => {
    const project = join(work, 'elsewhere');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'elsewhere', version: '1.0.0', private: true }));
    // As on a platform no prebuild is made for: install the package, then take its prebuild away.
    expect(npm(['install', '--ignore-scripts', tarball], project).status).toBe(0);
    rmSync(join(project, 'node_modules', 'simd-adam', 'prebuilds'), { recursive: true, force: true });

    const rebuild = npm(['rebuild', 'simd-adam', '--foreground-scripts'], project, bareEnv);
    const output = `${rebuild.stdout}\n${rebuild.stderr}`;
    expect(rebuild.status).not.toBe(0);
    expect(output).toMatch(/simd-adam: cannot compile the native addon: a C\+\+ compiler \(c\+\+, g\+\+ or clang\+\+\), make, Python 3 not found on PATH\./);
    expect(output).toContain('simd-adam needs a C++17 compiler, make and Python 3');
    expect(output).toContain('apt-get install -y g++ make python3');
    // Our message, not node-gyp's: the build was never attempted.
    expect(output).not.toContain('gyp ERR!');
  }, 120_000);
});
