/** How simd-adam/tfjs is packaged: a subpath export of its own, tfjs-core an optional peer, and
 * nothing outside src/tfjs/ loading tfjs, so that `simd-adam` alone never needs it. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, Record<string, string>>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dependencies?: Record<string, string>;
};

it('exports simd-adam/tfjs from dist/tfjs, types first', () => {
  const entry = pkg.exports['./tfjs']!;
  expect(Object.keys(entry)[0]).toBe('types');
  expect(entry).toEqual({ types: './dist/tfjs/index.d.ts', default: './dist/tfjs/index.js' });
});

it('takes @tensorflow/tfjs-core as an optional peer dependency, never as a dependency', () => {
  expect(pkg.peerDependencies?.['@tensorflow/tfjs-core']).toBeDefined();
  expect(pkg.peerDependenciesMeta?.['@tensorflow/tfjs-core']?.optional).toBe(true);
  expect(Object.keys(pkg.dependencies ?? {}).some((d) => d.startsWith('@tensorflow/'))).toBe(false);
});

it('loads tfjs nowhere in src/ but src/tfjs/', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  const src = join(root, 'src');
  const offenders = files(src).filter((f) => !relative(src, f).startsWith(`tfjs`) && /from '@tensorflow\/|import\('@tensorflow\//.test(readFileSync(f, 'utf8')));
  expect(offenders).toEqual([]);
  // And src/tfjs/ reaches the rest of simd-adam through its public entry only.
  const deep = files(join(src, 'tfjs')).filter((f) => /from '\.\.\/(?!index\.js')/.test(readFileSync(f, 'utf8')));
  expect(deep).toEqual([]);
});
