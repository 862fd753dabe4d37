/** The tree stays walkable: no import cycles in src/, no source file over 450 lines, and every
 * native source in native/build.json exists (so node-gyp, cmake-js and the kernel harness build
 * the same files). */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import madge from 'madge';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINES = 450;

it('src/ has no import cycles', async () => {
  const graph = await madge(join(root, 'src'), { fileExtensions: ['ts'], tsConfig: join(root, 'tsconfig.json') });
  expect(Object.keys(graph.obj()).length).toBeGreaterThan(30); // madge really read the tree
  expect(graph.circular()).toEqual([]);
}, 60_000);

it(`no source file is longer than ${MAX_LINES} lines`, () => {
  const tracked = execFileSync('git', ['ls-files', 'src', 'native', 'bench', 'scripts', 'examples'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /\.(ts|cc|h|cjs|mjs|js|sh|py)$/.test(f) && existsSync(join(root, f)));
  expect(tracked.length).toBeGreaterThan(50);
  const long = tracked
    .map((f) => ({ f, lines: readFileSync(join(root, f), 'utf8').split('\n').length }))
    .filter(({ lines }) => lines > MAX_LINES);
  expect(long).toEqual([]);
});

it('native/build.json lists only files that exist, and every kernel file is listed', () => {
  const build = JSON.parse(readFileSync(join(root, 'native', 'build.json'), 'utf8')) as { sources: Record<string, string[]> };
  const listed = new Set(Object.values(build.sources).flat());
  for (const file of listed) expect(existsSync(join(root, file)), file).toBe(true);
  const kernels = execFileSync('git', ['ls-files', 'native/kernels/*.cc', 'native/runtime/*.cc', 'native/napi/*.cc', 'native/bench/*.cc'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  for (const file of kernels) expect(listed.has(file), `${file} is not in native/build.json`).toBe(true);
});
