// The compile and link flags of the MPI library on this machine, from its compiler wrapper:
// Open MPI's `mpicc --showme:compile|link`, or MPICH's `mpicc -compile_info|-link_info` (whose
// output starts with the compiler's name). `node mpi-flags.cjs compile|link` prints them for
// binding.gyp; mpiFlags() returns null when there is no usable MPI.
'use strict';
const { spawnSync } = require('node:child_process');

function run(args) {
  const mpicc = process.env.MPICC || 'mpicc';
  const result = spawnSync(mpicc, args, { encoding: 'utf8' });
  return result.status === 0 && !result.error ? result.stdout.trim() : null;
}

/** { compile: string[], link: string[] } or null. */
function mpiFlags() {
  let compile = run(['--showme:compile']);
  let link = run(['--showme:link']);
  if (compile === null || link === null) {
    // MPICH: the whole command line, compiler first; keep the flags.
    const ci = run(['-compile_info']);
    const li = run(['-link_info']);
    if (ci === null || li === null) return null;
    compile = ci.split(/\s+/).slice(1).filter((f) => f.startsWith('-I') || f.startsWith('-D')).join(' ');
    link = li.split(/\s+/).slice(1).filter((f) => /^-(L|l|Wl,)/.test(f)).join(' ');
  }
  const words = (s) => s.split(/\s+/).filter(Boolean);
  return { compile: words(compile), link: words(link) };
}

module.exports = { mpiFlags };

if (require.main === module) {
  const which = process.argv[2];
  const flags = mpiFlags();
  if (!flags || (which !== 'compile' && which !== 'link')) {
    console.error('usage: node mpi-flags.cjs compile|link (needs mpicc on PATH)');
    process.exit(1);
  }
  console.log(flags[which].join(' '));
}
