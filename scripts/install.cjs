#!/usr/bin/env node
// Builds the native addon at install time, offline.
//
// node-gyp would download Node's headers unless told where they are; they ship with Node
// itself (<prefix>/include/node), so we pass --nodedir=<prefix> when they are there, and
// respect npm_config_nodedir when the user set one. A prebuilt binary for this platform that
// actually loads makes compiling unnecessary; a stale build/ does not count.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { missingBuildTools } = require('./build-tools.cjs');
const { nodeHeadersPrefix } = require('./node-headers.cjs');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
const debug = process.argv.includes('--debug');

function loadablePrebuild() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!fs.existsSync(dir)) return null;
  for (const file of fs.readdirSync(dir)) {
    if (!file.endsWith('.node')) continue;
    const full = path.join(dir, file);
    try {
      if (typeof require(full).step === 'function') return full;
    } catch {
      // Wrong libc or ABI: fall through to compiling.
    }
  }
  return null;
}

function fail(message) {
  console.error(`\nsimd-adam: ${message}\n`);
  console.error(
    [
      'simd-adam needs a C++17 compiler, make and Python 3 to build its native addon on this platform',
      `(${process.platform}-${process.arch}; prebuilt binaries ship for linux-x64 only).`,
      '  Debian/Ubuntu: apt-get install -y g++ make python3',
      '  Fedora/RHEL:   dnf install -y gcc-c++ make python3',
      '  macOS:         xcode-select --install',
      '  Windows:       Visual Studio Build Tools with "Desktop development with C++", and Python 3',
      'Then run npm install again (or `npm rebuild simd-adam`).',
    ].join('\n'),
  );
  process.exit(1);
}

if (!force) {
  const prebuild = loadablePrebuild();
  if (prebuild) {
    console.log(`simd-adam: using prebuilt ${path.relative(root, prebuild)}`);
    process.exit(0);
  }
}

const missing = missingBuildTools();
if (missing.length > 0) fail(`cannot compile the native addon: ${missing.join(', ')} not found on PATH.`);

let nodeGyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  fail('cannot find node-gyp (a dependency of simd-adam); reinstall the package.');
}

const args = [nodeGyp, 'rebuild'];
const nodedir = nodeHeadersPrefix();
if (nodedir) args.push(`--nodedir=${nodedir}`);
if (debug) args.push('--debug');
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.error) fail(`could not run node-gyp: ${result.error.message}`);
if (result.status !== 0) {
  fail(
    nodedir
      ? 'compiling the native addon failed (see the compiler output above).'
      : "compiling the native addon failed, and Node's headers were not found beside the node binary " +
          '(set npm_config_nodedir to a Node source or headers directory).',
  );
}
