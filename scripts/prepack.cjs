#!/usr/bin/env node
// Runs at `npm pack` / `npm publish`: builds the prebuilt addons the tarball carries,
// prebuilds/linux-x64/ and prebuilds/linux-arm64/simd-adam.glibc.node, in an old Debian root
// (scripts/prebuilds/build.cjs), and refuses to pack unless both pass the baseline check: they
// must load wherever Node 20's own Linux binaries run (glibc >= 2.28). One Node-API binary per
// platform serves every Node version from 20.19 on. Nothing binary is committed: prebuilds/ is
// git-ignored, made here, and deleted again by postpack.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { buildPrebuilds } = require('./prebuilds/build.cjs');
const { checkFile } = require('./prebuilds/check-symbols.cjs');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'prebuilds');

function die(message) {
  console.error(`simd-adam prepack: ${message}`);
  process.exit(1);
}

// A binary left from an earlier pack must never ship by accident.
fs.rmSync(out, { recursive: true, force: true });
const started = Date.now();
let files;
try {
  files = buildPrebuilds(out);
} catch (err) {
  die(err.message);
}
for (const file of files) {
  const r = checkFile(file);
  if (r.problems.length) die(`${path.relative(root, file)} is outside the baseline:\n  ${r.problems.join('\n  ')}`);
  console.error(`simd-adam prepack: ${path.relative(root, file)} (${r.machine}; highest GLIBC_${r.glibc}; ${fs.statSync(file).size} bytes)`);
}
// Loaded here rather than after install: a prebuild that does not load would be skipped by the
// install script, and users would need a compiler after all.
const own = files.find((f) => path.basename(path.dirname(f)) === `${process.platform}-${process.arch}`);
if (own) {
  const addon = require(own);
  if (typeof addon.step !== 'function') die(`${path.relative(root, own)} loads but does not export step().`);
  console.error(`simd-adam prepack: ${path.relative(root, own)} loads here (kernel ${addon.current()})`);
}
console.error(`simd-adam prepack: ${files.length} prebuilds in ${((Date.now() - started) / 1000).toFixed(1)} s`);
