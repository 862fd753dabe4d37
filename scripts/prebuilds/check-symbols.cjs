#!/usr/bin/env node
// Checks prebuilt addons against the baseline of Node 20's own Linux binaries, from what the
// dynamic loader will ask for (binutils' readelf, which reads any architecture's ELF):
//   - the ELF machine matches the folder (linux-x64 → X86-64, linux-arm64 → AArch64);
//   - no GLIBC_ symbol version above 2.28;
//   - libstdc++ and libgcc are linked in: no GLIBCXX_/CXXABI_/GCC_ versions and no
//     libstdc++.so.6 or libgcc_s.so.1 among the needed libraries (the issue allows GLIBCXX up to
//     3.4.25; we ship none at all, so the C++ runtime of the machine never matters);
//   - every undefined symbol is either versioned (bound at link time to a library above), weak,
//     or Node-API's own (napi_*, node_api_*), which the node binary provides.
//
// Usage: check-symbols.cjs <prebuilds dir | file.node>...   (exit 1 on any violation)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BASELINE_GLIBC = '2.28';
const MACHINES = { 'linux-x64': 'Advanced Micro Devices X86-64', 'linux-arm64': 'AArch64' };
const ALLOWED_NEEDED = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$/;

const versionLess = (a, b) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) < (y[i] || 0);
  }
  return false;
};

/** GLIBC_2.2.5 before GLIBC_2.14, each library's versions together. */
const byVersion = (a, b) => {
  const [la, va] = a.split(/_(?=\d)/);
  const [lb, vb] = b.split(/_(?=\d)/);
  if (la !== lb) return la < lb ? -1 : 1;
  return versionLess(va, vb) ? -1 : versionLess(vb, va) ? 1 : 0;
};

function readelf(args, file) {
  const r = spawnSync('readelf', [...args, file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`readelf ${args.join(' ')} ${file}: ${r.error?.message || r.stderr}`);
  return r.stdout;
}

/** @returns {{ file: string, machine: string, glibc: string, needed: string[], versions: string[], problems: string[] }} */
function checkFile(file) {
  const problems = [];
  const platform = path.basename(path.dirname(file));
  const machine = /Machine:\s+(.+)/.exec(readelf(['-h'], file))?.[1].trim() ?? '?';
  if (MACHINES[platform] && MACHINES[platform] !== machine) problems.push(`machine ${machine}, expected ${MACHINES[platform]}`);

  const needed = [...readelf(['-d'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  for (const lib of needed) if (!ALLOWED_NEEDED.test(lib)) problems.push(`needs ${lib}`);

  const versions = new Set();
  const cxxRuntime = [];
  let glibc = '0';
  for (const line of readelf(['--dyn-syms', '--wide'], file).split('\n')) {
    const cols = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name [(n)]
    if (cols.length < 8 || cols[6] !== 'UND' || !cols[7]) continue;
    const [name, version] = cols[7].split(/@+/);
    if (!version) {
      if (cols[4] !== 'WEAK' && !/^(napi_|node_api_)/.test(name)) problems.push(`unversioned undefined symbol ${name}`);
      continue;
    }
    versions.add(version);
    const m = /^GLIBC_([\d.]+)$/.exec(version);
    if (m) {
      if (versionLess(glibc, m[1])) glibc = m[1];
      if (versionLess(BASELINE_GLIBC, m[1])) problems.push(`${name}@${version} is above GLIBC_${BASELINE_GLIBC}`);
    } else if (/^(GLIBCXX|CXXABI|GCC)_/.test(version)) {
      cxxRuntime.push(`${name}@${version}`);
    } else {
      problems.push(`${name}@${version}: unknown symbol version`);
    }
  }
  if (cxxRuntime.length) {
    problems.push(`${cxxRuntime.length} symbols from the shared C++ runtime (link it statically), e.g. ${cxxRuntime.slice(0, 3).join(' ')}`);
  }
  return { file, machine, glibc, needed, versions: [...versions].sort(byVersion), problems };
}

function nodeFiles(target) {
  if (fs.statSync(target).isFile()) return [target];
  return fs
    .readdirSync(target, { recursive: true })
    .filter((f) => f.endsWith('.node'))
    .map((f) => path.join(target, f))
    .sort();
}

function main(targets) {
  const files = targets.flatMap(nodeFiles);
  if (files.length === 0) {
    console.error('check-symbols: no .node files found');
    return 1;
  }
  let bad = 0;
  for (const file of files) {
    const r = checkFile(file);
    const shown = path.relative(process.cwd(), file) || file;
    console.log(`${r.problems.length ? 'FAIL' : 'ok  '} ${shown}: ${r.machine}; highest GLIBC_${r.glibc} (baseline ${BASELINE_GLIBC}); needs ${r.needed.join(' ')}`);
    console.log(`     symbol versions: ${r.versions.join(' ')}`);
    for (const p of r.problems) console.log(`     ${p}`);
    if (r.problems.length) bad++;
  }
  return bad ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));

module.exports = { checkFile, BASELINE_GLIBC };
