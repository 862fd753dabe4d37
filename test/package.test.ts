/**
 * What a user gets from `npm pack`: a tarball with dist/, the native sources and, built at pack
 * time in an old Debian root, prebuilt addons for linux-x64 and linux-arm64 within the glibc 2.28
 * baseline. Installing it needs no compiler here; when the prebuild does not load, the install
 * says why and compiles, and when that fails too, it ends with one message saying what to install.
 * (`npm run test:prebuilds` proves the prebuilds on an older glibc and on arm64.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

// A project that approved simd-adam's install script, as `npm install-scripts approve simd-adam`
// records it (npm versions that skip dependencies' install scripts until approved).
function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, allowScripts: { 'simd-adam': true } }));
  return dir;
}

type SymbolCheck = { checkFile(file: string): { machine: string; glibc: string; problems: string[] } };
const { checkFile } = createRequire(import.meta.url)('../scripts/prebuilds/check-symbols.cjs') as SymbolCheck;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

const USE = `
  const w = new m.Parameter(new Float32Array([1, 2, 3]));
  const opt = new m.Adam([w], { lr: 0.1 });
  w.grad = new Float32Array([1, -1, 0]);
  opt.step();
  console.log(JSON.stringify({ backend: m.backend(), version: m.version, data: Array.from(w.data) }));`;

describe('the packed tarball', () => {
  const prebuild = (arch: string) => `prebuilds/linux-${arch}/simd-adam.glibc.node`;
  let files: string[] = [];
  let tarball = '';

  beforeAll(() => {
    // prepack builds both prebuilds in a cached Debian root (made on first use: minutes).
    const packed = npm(['pack', '--json', '--pack-destination', work], root);
    expect(packed.status, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info!.files.map((f) => f.path);
    tarball = join(work, info!.filename);
  }, 900_000);

  it('carries dist/, LICENSE, every source binding.gyp compiles and prebuilds for linux-x64 and linux-arm64, and no tests, benchmarks or source maps', () => {
    // docs/ too: the README's links into it resolve inside the installed package.
    // tools/torch_checkpoint.py: the PyTorch converter the checkpoint docs and errors point to.
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'LICENSE', 'binding.gyp', 'docs/api.md', 'dist/tfjs/index.js', 'dist/tfjs/index.d.ts', 'tools/torch_checkpoint.py', prebuild('x64'), prebuild('arm64')]) {
      expect(files).toContain(f);
    }
    // The groups binding.gyp asks native/build.json for: what a user's source build compiles.
    const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
    const groups = new Set([...gyp.matchAll(/native-build\.cjs sources (\w+)/g)].map((m) => m[1]!));
    const build = JSON.parse(readFileSync(join(root, 'native', 'build.json'), 'utf8')) as { sources: Record<string, string[]> };
    const compiled = [...groups].flatMap((g) => build.sources[g]!);
    expect(compiled.length).toBeGreaterThan(10);
    for (const source of compiled) expect(files, 'a source build needs it').toContain(source);
    // CMakeLists.txt builds the benchmark addon too, from sources that are not shipped: it is a
    // developer build, not part of the package.
    // packages/: the workspace package simd-adam-mpi ships on its own.
    const unwanted = files.filter((f) => /^(test|src|build|bench|packages|native\/test|native\/bench)\//.test(f) || f.endsWith('.map') || f === 'CMakeLists.txt');
    expect(unwanted).toEqual([]);
    // The prebuilds are made for the tarball, not left in the working tree.
    expect(existsSync(join(root, 'prebuilds'))).toBe(false);
  });

  it('ships prebuilds that ask for no glibc above 2.28 and carry their C++ runtime', () => {
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, 'package/prebuilds']);
    const checks = ['x64', 'arm64'].map((arch) => checkFile(join(unpacked, 'package', prebuild(arch))));
    expect(checks.map((c) => c.machine)).toEqual(['Advanced Micro Devices X86-64', 'AArch64']);
    for (const c of checks) expect(c.problems).toEqual([]);
  });

  // One install of the tarball, with no compiler on PATH and without tfjs, shared by the tests
  // that use it.
  let consumerInstall: { consumer: string; install: ReturnType<typeof npm> } | undefined;
  function installedConsumer(): { consumer: string; install: ReturnType<typeof npm> } {
    if (consumerInstall === undefined) {
      const consumer = project('consumer');
      consumerInstall = { consumer, install: npm(['install', tarball, '--foreground-scripts'], consumer, bareEnv) };
    }
    return consumerInstall;
  }

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'installs on linux-x64 with no compiler on PATH, loads as ESM and as CommonJS, and reports its version',
    () => {
      for (const tool of ['c++', 'g++', 'make', 'python3']) expect(existsSync(join(bareBin, tool))).toBe(false);
      const { consumer, install } = installedConsumer();
      expect(install.status, install.stderr).toBe(0);
      expect(install.stdout).toContain(`simd-adam: using the prebuilt ${prebuild('x64')}`);
      const installed = join(consumer, 'node_modules', 'simd-adam');
      expect(readdirSync(installed)).toContain('dist');
      expect(existsSync(join(installed, 'build')), 'nothing was compiled').toBe(false);

      const run = (type: string, head: string) =>
        execFileSync(process.execPath, [`--input-type=${type}`, '-e', `${head};${USE}`], { cwd: consumer, encoding: 'utf8', env: bareEnv });
      const esm = JSON.parse(run('module', "import * as m from 'simd-adam'")) as { backend: string; version: string; data: number[] };
      const cjs = JSON.parse(run('commonjs', "const m = require('simd-adam')")) as unknown;
      expect(esm.data[0]).toBeCloseTo(0.9, 6);
      expect(esm.data[2]).toBe(3);
      expect(esm.version).toBe(pkg.version);
      expect(cjs).toEqual(esm);
    },
    120_000,
  );

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'without tfjs installed, simd-adam/tfjs fails on import and on require with ERR_TFJS_LOAD saying what to install, and simd-adam still loads',
    () => {
      const { consumer, install } = installedConsumer();
      expect(install.status, install.stderr).toBe(0);
      expect(existsSync(join(consumer, 'node_modules', '@tensorflow')), 'the optional peer is not installed').toBe(false);
      const report = `const r = (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, cause: e.cause?.code, causeMessage: e.cause?.message, simd: e instanceof m.SimdAdamError }));`;
      const run = (type: string, head: string, load: string) =>
        JSON.parse(execFileSync(process.execPath, [`--input-type=${type}`, '-e', `${head};${report}${load}`], { cwd: consumer, encoding: 'utf8', env: bareEnv })) as Record<string, unknown>;
      const esm = run('module', "import * as m from 'simd-adam'", "await import('simd-adam/tfjs').then(() => console.log('{}'), r);");
      const cjs = run('commonjs', "const m = require('simd-adam')", "try { require('simd-adam/tfjs'); console.log('{}'); } catch (e) { r(e); }");
      expect(esm).toMatchObject({ name: 'SimdAdamError', code: 'ERR_TFJS_LOAD', cause: 'MODULE_NOT_FOUND', simd: true });
      expect(esm.causeMessage).toContain("Cannot find module '@tensorflow/tfjs-core'");
      expect(esm.message).toContain('simd-adam/tfjs needs @tensorflow/tfjs-core, an optional peer dependency of simd-adam, and it is not installed.');
      expect(esm.message).toContain('npm install @tensorflow/tfjs-core');
      expect(esm.message).toContain('npm install @tensorflow/tfjs\n');
      // docs/tfjs.md shows the message as it is.
      expect(readFileSync(join(root, 'docs', 'tfjs.md'), 'utf8')).toContain(`SimdAdamError: ${esm.message as string}\n`);
      expect(cjs).toEqual(esm);
      // A second import fails the same way, and the package's main entry is unaffected.
      const again = run('module', "import * as m from 'simd-adam'", `await import('simd-adam/tfjs').catch(() => {}); await import('simd-adam/tfjs').then(() => console.log('{}'), r);`);
      expect(again).toEqual(esm);
      expect(JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', `import * as m from 'simd-adam';${USE}`], { cwd: consumer, encoding: 'utf8', env: bareEnv })).data[0]).toBeCloseTo(0.9, 6);
    },
    120_000,
  );

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'with tfjs-core and a backend installed, simd-adam/tfjs steps a tfjs variable on the user\'s tfjs instance, from ESM and from CommonJS',
    () => {
      const dir = project('with-tfjs');
      expect(npm(['install', '--ignore-scripts', tarball], dir).status).toBe(0);
      // tfjs as this checkout has it installed, so no network is needed. The links resolve
      // tfjs-core's own dependencies from the checkout, and both names reach one tfjs-core on disk.
      mkdirSync(join(dir, 'node_modules', '@tensorflow'));
      for (const name of ['tfjs-core', 'tfjs-backend-cpu']) symlinkSync(join(root, 'node_modules', '@tensorflow', name), join(dir, 'node_modules', '@tensorflow', name));
      const step = `
        await tf.setBackend('cpu');
        const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'w');
        const opt = new SimdAdam({ lr: 0.1 });
        opt.applyGradients({ w: tf.tensor1d([1, -1, 0]) });
        const registered = Object.keys(tf.serialization.SerializationMap.getMap().classNameMap).filter((k) => k.includes('SimdAdam')).sort();
        console.log(JSON.stringify({ optimizer: opt instanceof tf.Optimizer, registered, data: Array.from(v.dataSync()) }));`;
      const run = (type: string, head: string, body: string) =>
        JSON.parse(execFileSync(process.execPath, [`--input-type=${type}`, '-e', head + body], { cwd: dir, encoding: 'utf8', env: { ...inherited, ...quiet } })) as { optimizer: boolean; registered: string[]; data: number[] };
      const esm = run('module', "import * as tf from '@tensorflow/tfjs-core'; import '@tensorflow/tfjs-backend-cpu'; import { SimdAdam } from 'simd-adam/tfjs';", step);
      const cjs = run('commonjs', "const tf = require('@tensorflow/tfjs-core'); require('@tensorflow/tfjs-backend-cpu'); const { SimdAdam } = require('simd-adam/tfjs');", `(async () => {${step}})();`);
      expect(esm.registered).toEqual(['SimdAdam', 'SimdAdamW']);
      expect(esm.optimizer).toBe(true);
      expect(esm.data[0]).toBeCloseTo(0.9, 6);
      expect(esm.data[1]).toBeCloseTo(2.1, 6);
      expect(esm.data[2]).toBe(3);
      expect(cjs).toEqual(esm);
    },
    120_000,
  );

  // As on a machine the x64 prebuild does not fit: the arm64 one stands in for it.
  function installWithUnloadablePrebuild(name: string): string {
    const dir = project(name);
    expect(npm(['install', '--ignore-scripts', tarball], dir).status).toBe(0);
    const pkgDir = join(dir, 'node_modules', 'simd-adam');
    copyFileSync(join(pkgDir, prebuild('arm64')), join(pkgDir, prebuild('x64')));
    return dir;
  }

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'when the prebuild does not load and there is no compiler, ends with one message: what was tried, why each failed, what to install',
    () => {
      const dir = installWithUnloadablePrebuild('no-compiler');
      const rebuild = npm(['rebuild', 'simd-adam', '--foreground-scripts'], dir, bareEnv);
      const output = `${rebuild.stdout}\n${rebuild.stderr}`;
      expect(rebuild.status).not.toBe(0);
      expect(output).toContain(`simd-adam: no usable prebuilt binary: ${prebuild('x64')} does not load: `);
      expect(output.match(/simd-adam: could not install its native addon for linux-x64/g)).toHaveLength(1);
      expect(output).toMatch(/ {2}- prebuilt binary: .*\(the file is built for arm64, this is x64\)/);
      expect(output).toContain('  - source build: a C++ compiler (c++, g++ or clang++), make, Python 3 not found on PATH');
      expect(output).toContain('apt-get install -y g++ make python3');
      // Our message, not node-gyp's (the build was never attempted), and no claim that contradicts
      // a linux-x64 prebuild existing.
      expect(output).not.toContain('gyp ERR!');
      expect(output).not.toMatch(/none is made for linux-x64|linux-x64 only/);
    },
    120_000,
  );

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'when the prebuild does not load, says why, compiles the addon from source, and the package loads it',
    () => {
      const dir = installWithUnloadablePrebuild('compiles');
      const rebuild = npm(['rebuild', 'simd-adam', '--foreground-scripts'], dir);
      const output = `${rebuild.stdout}\n${rebuild.stderr}`;
      expect(rebuild.status, output).toBe(0);
      expect(output).toContain('(the file is built for arm64, this is x64). Building from source instead.');
      expect(output).toContain('simd-adam: built build/Release/');
      const used = execFileSync(process.execPath, ['--input-type=module', '-e', `import * as m from 'simd-adam';${USE}`], { cwd: dir, encoding: 'utf8' });
      expect((JSON.parse(used) as { data: number[] }).data[0]).toBeCloseTo(0.9, 6);
    },
    300_000,
  );
});
