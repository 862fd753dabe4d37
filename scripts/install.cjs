#!/usr/bin/env node
// Makes the native addon loadable after `npm install`, offline: the prebuilt binary for this
// platform when it loads, else a source build with node-gyp. Whatever fails is said, with the
// loader's or the compiler's own reason: a prebuild that does not load (missing GLIBC version,
// wrong architecture) is reported before the source build starts, and when both fail the install
// ends with one message listing what was tried, why each failed and what to install.
//
// node-gyp would download Node's headers unless told where they are; they ship with Node itself
// (<prefix>/include/node), so we pass --nodedir=<prefix> when they are there, and respect
// npm_config_nodedir when the user set one. node-gyp itself is the one npm bundles and hands to
// install scripts (npm_config_node_gyp), so the package does not depend on it.
//
// --force (npm run build:native): skip the prebuild, always compile. --debug: a debug build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { missingBuildTools } = require('./build-tools.cjs');
const { nodeHeadersPrefix } = require('./node-headers.cjs');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
const debug = process.argv.includes('--debug');
const platform = `${process.platform}-${process.arch}`;
const PREBUILT = 'linux-x64 and linux-arm64 with glibc 2.28 or later';

/** 'glibc 2.31', 'musl or another non-glibc C library', or '' off Linux. */
function libc() {
  if (process.platform !== 'linux') return '';
  const glibc = process.report?.getReport().header.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'musl or another non-glibc C library';
}

const firstLine = (err) => String(err && err.message ? err.message : err).split('\n')[0];

// glibc reports an addon built for another CPU as "cannot open shared object file: No such file
// or directory"; the ELF header says what it really is.
const MACHINES = { 3: 'ia32', 40: 'arm', 62: 'x64', 183: 'arm64' };
function wrongMachine(file) {
  try {
    const head = Buffer.alloc(20);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, head, 0, 20, 0);
    fs.closeSync(fd);
    if (head.readUInt32BE(0) !== 0x7f454c46) return '';
    const machine = MACHINES[head.readUInt16LE(18)] || `ELF machine ${head.readUInt16LE(18)}`;
    return machine === process.arch ? '' : ` (the file is built for ${machine}, this is ${process.arch})`;
  } catch {
    return '';
  }
}

/** @returns {{ file?: string, why?: string }} file when a prebuild loads; else why not. */
function tryPrebuild() {
  if (!fs.existsSync(path.join(root, 'prebuilds'))) {
    return { why: 'this copy has no prebuilds/ folder (a git checkout: `npm pack` makes them)', checkout: true };
  }
  const dir = path.join(root, 'prebuilds', platform);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (files.length === 0) return { why: `none is made for ${platform} (prebuilt binaries: ${PREBUILT})` };
  if (process.platform === 'linux' && !libc().startsWith('glibc') && files.every((f) => f.includes('.glibc.'))) {
    return { why: `the ${platform} prebuild is for glibc, and this system has ${libc()}` };
  }
  const reasons = [];
  for (const file of files) {
    const full = path.join(root, 'prebuilds', platform, file);
    try {
      if (typeof require(full).step === 'function') return { file: full };
      reasons.push(`prebuilds/${platform}/${file} loads but does not export step()`);
    } catch (err) {
      reasons.push(`prebuilds/${platform}/${file} does not load: ${firstLine(err)}${wrongMachine(full)}`);
    }
  }
  return { why: reasons.join('; '), rejected: true };
}

function nodeGypPath() {
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

/** @returns {{ file?: string, why?: string }} */
function sourceBuild() {
  const missing = missingBuildTools();
  if (missing.length > 0) return { why: `${missing.join(', ')} not found on PATH`, tools: true };
  const nodeGyp = nodeGypPath();
  if (!nodeGyp) return { why: 'node-gyp was not found (npm provides it to install scripts; outside npm: npm install -g node-gyp)' };
  const args = [nodeGyp, 'rebuild'];
  const nodedir = nodeHeadersPrefix();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  if (debug) args.push('--debug');
  console.error(`simd-adam: compiling the native addon for ${platform} with node-gyp`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.error) return { why: `could not run node-gyp: ${result.error.message}` };
  if (result.status !== 0) {
    return {
      why: nodedir
        ? 'node-gyp failed (see the compiler output above)'
        : "node-gyp failed, and Node's headers were not found beside the node binary (set npm_config_nodedir to a Node headers directory)",
      tools: true,
    };
  }
  const out = path.join(root, 'build', debug ? 'Debug' : 'Release');
  const built = fs.readdirSync(out).filter((f) => f.endsWith('.node')).map((f) => path.join(out, f))[0];
  if (!built) return { why: `node-gyp succeeded but left no .node file in ${path.relative(root, out)}` };
  try {
    require(built);
    return { file: built };
  } catch (err) {
    return { why: `the compiled addon does not load: ${firstLine(err)}` };
  }
}

function fail(tried, prebuild, source) {
  const lines = [
    '',
    `simd-adam: could not install its native addon for ${platform} (Node ${process.version}${libc() ? `, ${libc()}` : ''}).`,
  ];
  if (tried) lines.push(`  - prebuilt binary: ${prebuild.why}`);
  lines.push(`  - source build: ${source.why}`);
  if (source.tools) {
    lines.push(
      'To build from source, install a C++17 compiler, make and Python 3:',
      '  Debian/Ubuntu: apt-get install -y g++ make python3',
      '  Fedora/RHEL:   dnf install -y gcc-c++ make python3',
      '  Alpine (musl): apk add g++ make python3',
      '  macOS:         xcode-select --install',
      '  Windows:       Visual Studio Build Tools with "Desktop development with C++", and Python 3',
      'then run `npm rebuild simd-adam`.',
    );
  }
  if (prebuild && prebuild.rejected && /GLIBC_|GLIBCXX_/.test(prebuild.why)) {
    const [major, minor] = (libc().split(' ')[1] || '0.0').split('.').map(Number);
    lines.push(
      major < 2 || (major === 2 && minor < 28)
        ? "Or run on glibc 2.28 or later (what Node 20's own Linux binaries need), where the prebuilt binary loads."
        : 'The prebuilt binaries are built to need no more than glibc 2.28: this one asks for more, please report it.',
    );
  }
  console.error(`${lines.join('\n')}\n`);
  process.exit(1);
}

let prebuild = null;
if (!force) {
  prebuild = tryPrebuild();
  if (prebuild.file) {
    console.log(`simd-adam: using the prebuilt ${path.relative(root, prebuild.file)}`);
    process.exit(0);
  }
  if (prebuild.checkout) console.error(`simd-adam: ${prebuild.why}; compiling.`);
  else console.error(`simd-adam: no usable prebuilt binary: ${prebuild.why}. Building from source instead.`);
}
const source = sourceBuild();
if (source.file) {
  console.log(`simd-adam: built ${path.relative(root, source.file)}`);
  process.exit(0);
}
fail(!force, prebuild, source);
