#!/usr/bin/env node
// Runs at `npm pack` / `npm publish`: builds the Node-API prebuild that the tarball carries,
// prebuilds/<platform>-<arch>/simd-adam.node, with prebuildify (stripped). One Node-API
// binary serves every Node version from 20.19 on, so installing the tarball on this platform
// needs no compiler. Nothing binary is committed: prebuilds/ is git-ignored and made here.
//
// The build runs in a staging copy of the native sources, so packing never deletes or rewrites
// the build/ that running tests may be loading the addon from. Offline, like the install script:
// node-gyp gets Node's own headers through npm_config_nodedir.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { nodeHeadersPrefix } = require('./node-headers.cjs');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'simd-adam-prepack-'));

function die(message) {
  console.error(`simd-adam prepack: ${message}`);
  process.exit(1);
}

try {
  for (const entry of ['package.json', 'binding.gyp', 'native', 'scripts/native-build.cjs']) {
    fs.cpSync(path.join(root, entry), path.join(staging, entry), { recursive: true });
  }
  // binding.gyp finds node-addon-api, and prebuildify finds node-gyp, through node_modules.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(staging, 'node_modules'), 'junction');
  // A binary left from an earlier pack must never ship by accident.
  fs.rmSync(target, { recursive: true, force: true });

  const env = { ...process.env };
  const nodedir = nodeHeadersPrefix();
  if (nodedir) env.npm_config_nodedir = nodedir;
  const prebuildify = path.join(root, 'node_modules', 'prebuildify', 'bin.js');
  if (!fs.existsSync(prebuildify)) die('prebuildify is missing: run npm ci first.');
  const args = [prebuildify, '--napi', '--strip', `--target=node@${process.versions.node}`, `--cwd=${staging}`, `--out=${root}`];
  // The build log goes to stderr: `npm pack --json` prints its JSON on stdout.
  const result = spawnSync(process.execPath, args, { cwd: staging, env, stdio: ['ignore', 2, 2] });
  if (result.error) die(`could not run prebuildify: ${result.error.message}`);
  if (result.status !== 0) die('prebuildify failed (see above).');

  const built = fs.existsSync(target) ? fs.readdirSync(target).filter((f) => f.endsWith('.node')) : [];
  if (built.length !== 1) die(`expected one .node file in ${path.relative(root, target)}, found ${built.length}.`);
  // Checked here rather than after install: a prebuild that does not load would be skipped
  // silently by the install script, and users would need a compiler after all.
  const addon = require(path.join(target, built[0]));
  if (typeof addon.step !== 'function') die(`${built[0]} loads but does not export step().`);
  console.error(`simd-adam prepack: ${path.relative(root, path.join(target, built[0]))} (kernel ${addon.current()})`);
} finally {
  fs.rmSync(staging, { recursive: true, force: true });
}
