// Builds the prebuilt addons the tarball ships, prebuilds/linux-{x64,arm64}/simd-adam.glibc.node,
// the way manylinux wheels are built: inside an old Debian root (see debian-root.cjs), with that
// root's own g++ and, for arm64, its aarch64 cross g++ and arm64 glibc, so that the binaries
// reference nothing newer than what those old libraries define. On top of that:
//   - -static-libstdc++ -static-libgcc: no GLIBCXX/GCC symbol versions at all, so the
//     machine's libstdc++ never matters; --exclude-libs,ALL keeps the linked-in C++ runtime's
//     symbols private to the addon;
//   - -Bsymbolic: the addon's own template instances (std::vector<bool>'s, say) bind to its own
//     copies, not to the same-named ones node exports, so memory the addon allocates is freed by
//     the same runtime (under ASan, node's operator new against the addon's free was reported as
//     an alloc-dealloc mismatch);
//   - glibc-2.28.h pins the few libm functions glibc 2.29 re-versioned;
//   - check-symbols.cjs then proves the result against the baseline (prepack runs it).
//
// The build itself is binding.gyp through node-gyp, exactly as a user's source build, with the
// compiler, --arch and extra flags chosen from outside (CC/CXX, CXXFLAGS, LDFLAGS), so the source
// list and per-ISA flags stay binding.gyp's business. Kernel -march stays generic; the addon keeps
// its runtime dispatch.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { ensureRoot, runInRoot, q } = require('./debian-root.cjs');
const { nodeHeadersPrefix } = require('../node-headers.cjs');

const repo = path.resolve(__dirname, '..', '..');

const BUILD_ROOT = {
  name: 'prebuild-amd64',
  arch: 'amd64',
  include: ['g++', 'make', 'python3', 'g++-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu'],
};

/** Node's arch name → the build root's compilers for it. */
const TARGETS = {
  x64: { cc: 'gcc', cxx: 'g++', strip: 'strip' },
  arm64: { cc: 'aarch64-linux-gnu-gcc', cxx: 'aarch64-linux-gnu-g++', strip: 'aarch64-linux-gnu-strip' },
};

/** What a source build needs from the package: its `files`, less what is built (dist/, prebuilds/). */
function sourceEntries() {
  const { files } = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
  return files
    .filter((f) => !f.startsWith('!'))
    .map((f) => f.replace(/\/$/, ''))
    .filter((f) => !['dist', 'prebuilds'].includes(f) && fs.existsSync(path.join(repo, f)));
}

/**
 * Builds one prebuild per arch into `<outDir>/linux-<arch>/simd-adam.glibc.node`.
 * @param {string} outDir usually <repo>/prebuilds
 * @param {Array<keyof typeof TARGETS>} arches
 * @returns {string[]} the files written
 */
function buildPrebuilds(outDir, arches = ['x64', 'arm64']) {
  const nodedir = nodeHeadersPrefix();
  if (!nodedir) throw new Error("Node's headers were not found beside the node binary; set npm_config_nodedir.");
  if (!fs.existsSync(path.join(repo, 'node_modules', 'node-gyp'))) throw new Error('node-gyp is missing: run npm ci first.');
  const root = ensureRoot(BUILD_ROOT);
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  const work = fs.mkdtempSync(path.join(root, 'tmp', 'simd-adam-prebuild-'));
  const inside = `/${path.relative(root, work)}`;
  try {
    const pkg = path.join(work, 'pkg');
    for (const entry of [...sourceEntries(), 'package.json']) {
      fs.cpSync(path.join(repo, entry), path.join(pkg, entry), { recursive: true });
    }
    fs.copyFileSync(path.join(__dirname, 'glibc-2.28.h'), path.join(work, 'glibc-2.28.h'));
    const steps = arches.map((arch) => {
      const t = TARGETS[arch];
      if (!t) throw new Error(`no prebuild target for arch ${arch}`);
      const env = [
        `CC=${t.cc}`,
        `CXX=${t.cxx}`,
        `CFLAGS=${q(`-include ${inside}/glibc-2.28.h`)}`,
        `CXXFLAGS=${q(`-include ${inside}/glibc-2.28.h`)}`,
        `LDFLAGS=${q('-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL -Wl,-Bsymbolic')}`,
      ].join(' ');
      return [
        `echo "simd-adam prebuild: linux-${arch} with $(${t.cxx} --version | head -n1), $(ldd --version | head -n1)" >&2`,
        'rm -rf build',
        `${env} node node_modules/node-gyp/bin/node-gyp.js rebuild --loglevel=warn --release --arch=${arch} --nodedir=/usr/local >&2`,
        `mkdir -p ${inside}/out/linux-${arch}`,
        `${t.strip} --strip-all -o ${inside}/out/linux-${arch}/simd-adam.glibc.node build/Release/*.node`,
      ].join('\n');
    });
    const result = runInRoot(root, `cd ${inside}/pkg\n${steps.join('\n')}`, {
      binds: [
        { from: path.join(repo, 'node_modules'), to: `${inside}/pkg/node_modules`, readOnly: true },
        { from: process.execPath, to: '/usr/local/bin/node', readOnly: true },
        { from: path.join(nodedir, 'include', 'node'), to: '/usr/local/include/node', readOnly: true },
      ],
      // The build log goes to stderr: `npm pack --json` prints its JSON on stdout.
      stdio: ['ignore', 2, 2],
    });
    if (result.error) throw new Error(`could not run the build root: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`the prebuild build failed in ${root} (see above)`);
    return arches.map((arch) => {
      const dest = path.join(outDir, `linux-${arch}`, 'simd-adam.glibc.node');
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(work, 'out', `linux-${arch}`, 'simd-adam.glibc.node'), dest);
      return dest;
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { buildPrebuilds, BUILD_ROOT };
