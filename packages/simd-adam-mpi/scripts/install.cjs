#!/usr/bin/env node
// Builds the MPI binding at install time, offline, when an MPI library is there. Without one it
// prints one line and succeeds, so that installing the repository (or simd-adam beside this
// package) never fails on a machine without MPI: mpiWorld() then rejects saying what to install.
// `--force` (npm run build:native) fails loudly instead.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { mpiFlags } = require('./mpi-flags.cjs');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');

function stop(message) {
  console.log(`simd-adam-mpi: ${message}`);
  process.exit(force ? 1 : 0);
}

// Where Node's headers are: simd-adam's own helper (beside this package in the repository, or
// inside the installed simd-adam), so that node-gyp never downloads them.
function coreScript(name) {
  const inRepo = path.resolve(root, '..', '..', 'scripts', name);
  if (fs.existsSync(inRepo)) return require(inRepo);
  return require(path.join(path.dirname(require.resolve('simd-adam/package.json')), 'scripts', name));
}

if (!mpiFlags()) {
  stop('no MPI found (mpicc is not on PATH); the binding is not built. To use it: apt-get install -y openmpi-bin libopenmpi-dev, then npm rebuild simd-adam-mpi');
}
const { nodeHeadersPrefix } = coreScript('node-headers.cjs');
let nodeGyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  stop('cannot find node-gyp; the binding is not built.');
}
const args = [nodeGyp, 'rebuild'];
const nodedir = nodeHeadersPrefix();
if (nodedir) args.push(`--nodedir=${nodedir}`);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: force ? 'inherit' : ['ignore', 'ignore', 'inherit'] });
if (result.error || result.status !== 0) stop('compiling the MPI binding failed (see above); mpiWorld() will reject until `npm rebuild simd-adam-mpi` succeeds.');
console.log('simd-adam-mpi: built the MPI binding');
