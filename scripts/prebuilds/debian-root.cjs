// Debian root file systems made with debootstrap from Debian's own packages, cached outside the
// repository and made on first use: the old-glibc build root the prebuilds are compiled in, and
// the compiler-less roots the proof installs the packed tarball into.
//
// Suite: the oldest Debian release the configured mirror still serves. Debian 10 "buster"
// (glibc 2.28) has moved to the archive, which this machine's network does not reach, so the
// default is Debian 11 "bullseye" (glibc 2.31, g++ 10); SIMD_ADAM_DEBIAN_SUITE=buster with
// SIMD_ADAM_DEBIAN_MIRROR pointing at an archive mirror runs the same steps on glibc 2.28. The
// baseline itself (no symbol above GLIBC_2.28) is enforced by check-symbols.cjs, not by the suite.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');

const suite = process.env.SIMD_ADAM_DEBIAN_SUITE || 'bullseye';
const cacheDir = process.env.SIMD_ADAM_CACHE_DIR || '/var/cache/simd-adam';

/** The Debian mirror apt uses here (so the roots come from where this machine's packages come
 * from), unless SIMD_ADAM_DEBIAN_MIRROR says otherwise. */
function debianMirror() {
  if (process.env.SIMD_ADAM_DEBIAN_MIRROR) return process.env.SIMD_ADAM_DEBIAN_MIRROR;
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of fs.readdirSync('/etc/apt/sources.list.d')) files.push(path.join('/etc/apt/sources.list.d', f));
  } catch {
    // No sources.list.d: the default below.
  }
  for (const file of files) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const m = /^(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?(?:\s|$)/m.exec(text);
    if (m) return m[1];
  }
  return 'http://deb.debian.org/debian';
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${cmd}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status}`);
  return result;
}

function needsRoot(what) {
  if (process.getuid && process.getuid() !== 0) {
    throw new Error(`${what} needs root (debootstrap, chroot and bind mounts); run it as root or in a root container.`);
  }
  if (spawnSync('sh', ['-c', 'command -v debootstrap'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`${what} needs debootstrap: apt-get install -y debootstrap (and qemu-user for arm64).`);
  }
}

/** Serializes root creation across processes (npm test and test:prebuilds may both pack). */
function withLock(name, fn) {
  const lock = path.join(cacheDir, `${name}.lock`);
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        // Being written right now.
      }
      if (owner && !isAlive(owner)) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      spawnSync('sleep', ['1']);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Returns the path of a cached Debian root, making it first if it is missing or was made from a
 * different recipe. `foreign` roots (another architecture) get debootstrap's first stage only:
 * the packages are unpacked, not configured, which is all qemu-user needs to run a program.
 * @param {{ name: string, arch: 'amd64' | 'arm64', include?: string[], foreign?: boolean }} recipe
 */
function ensureRoot(recipe) {
  const mirror = debianMirror();
  const spec = JSON.stringify({ ...recipe, suite, mirror, variant: 'minbase' });
  const id = `${suite}-${recipe.name}-${crypto.createHash('sha256').update(spec).digest('hex').slice(0, 10)}`;
  const root = path.join(cacheDir, id);
  if (fs.existsSync(path.join(root, '.simd-adam-root'))) return root;
  needsRoot(`making the Debian ${suite} root '${recipe.name}'`);
  fs.mkdirSync(path.join(cacheDir, 'debs'), { recursive: true });
  return withLock(id, () => {
    if (fs.existsSync(path.join(root, '.simd-adam-root'))) return root;
    const partial = `${root}.partial`;
    fs.rmSync(partial, { recursive: true, force: true });
    const args = ['--variant=minbase', `--arch=${recipe.arch}`, `--cache-dir=${path.join(cacheDir, 'debs')}`];
    if (recipe.include?.length) args.push(`--include=${recipe.include.join(',')}`);
    if (recipe.foreign) args.push('--foreign');
    console.error(`simd-adam: making a Debian ${suite} ${recipe.arch} root (${recipe.name}) from ${mirror} in ${root}`);
    const started = Date.now();
    run('debootstrap', [...args, suite, partial, mirror], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(path.join(partial, '.simd-adam-root'), `${spec}\n`);
    fs.renameSync(partial, root);
    console.error(`simd-adam: ${recipe.name} root ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return root;
  });
}

/**
 * Runs a shell script chrooted in `root`, in a private mount namespace so that its bind mounts
 * (the host's node binary, node_modules, a work folder) vanish with it, even if it is killed.
 * @param {string} root
 * @param {string} script run by the root's /bin/sh
 * @param {{ binds?: Array<{ from: string, to: string, readOnly?: boolean }>, env?: Record<string, string>,
 *   stdio?: import('node:child_process').StdioOptions }} options
 */
function runInRoot(root, script, { binds = [], env = {}, stdio = 'pipe' } = {}) {
  const lines = ['set -e'];
  for (const { from, to, readOnly } of binds) {
    const target = path.join(root, to);
    const isDir = fs.statSync(from).isDirectory();
    if (isDir) fs.mkdirSync(target, { recursive: true });
    else if (!fs.existsSync(target)) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, '');
    }
    lines.push(`mount --bind ${q(from)} ${q(target)}`);
    if (readOnly) lines.push(`mount -o remount,bind,ro ${q(target)}`);
  }
  lines.push(`mount -t proc proc ${q(path.join(root, 'proc'))}`);
  lines.push(`mount --rbind /dev ${q(path.join(root, 'dev'))}`);
  const exports = Object.entries({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp/home', ...env })
    .map(([k, v]) => `${k}=${q(v)}`)
    .join(' ');
  lines.push(`exec chroot ${q(root)} /usr/bin/env -i ${exports} /bin/sh -c ${q(`set -e\nmkdir -p "$HOME"\n${script}`)}`);
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', lines.join('\n')], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio,
  });
}

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

module.exports = { ensureRoot, runInRoot, debianMirror, suite, cacheDir, q };
