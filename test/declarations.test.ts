/**
 * The published declarations type-check in a TypeScript project without @types/node: a consumer
 * that imports the package's entry points compiles with `types: []` under --strict and nodenext.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const work = mkdtempSync(join(tmpdir(), 'simd-adam-dts-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** tsc's diagnostics (it exits non-zero when it has any). */
function run(args: string[]): { output: string } {
  try {
    return { output: execFileSync(process.execPath, [tsc, ...args], { cwd: work, encoding: 'utf8' }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('the emitted declarations', () => {
  it('type-check in a consumer without @types/node (no node: imports, FileHandle or Buffer leak into them)', () => {
    const dist = join(work, 'dist');
    const emitted = run(['-p', join(root, 'tsconfig.build.json'), '--emitDeclarationOnly', '--outDir', dist]);
    expect(emitted.output).toBe('');
    writeFileSync(join(dist, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
    // The tfjs entry point's peer dependency, as a consumer of it has installed.
    mkdirSync(join(work, 'node_modules', '@tensorflow'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@tensorflow', 'tfjs-core'), join(work, 'node_modules', '@tensorflow', 'tfjs-core'));
    writeFileSync(
      join(work, 'consumer.ts'),
      [
        "import { Adam, Parameter, writeStateDict } from './dist/index.js';",
        "import * as tfjs from './dist/tfjs/index.js';",
        "import type { Optimizer } from '@tensorflow/tfjs-core';",
        'const p = new Parameter(new Float32Array(4));',
        'const opt = new Adam([p], { lr: 1e-3 });',
        // simd-adam/tfjs's optimizers are tf.Optimizers to the type checker, wherever tfjs takes one.
        'const tfOpt: Optimizer = new tfjs.SimdAdamW({ lr: 1e-3, weightDecay: 1e-2 });',
        'export const used = [opt, writeStateDict, tfjs, tfOpt];',
        '',
      ].join('\n'),
    );
    const options = { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], types: [] };
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['consumer.ts'] }));
    const checked = run(['-p', join(work, 'tsconfig.json')]);
    // tfjs-core's own declarations want DOM types and more; only errors in ours count here.
    const ours = checked.output.split('\n').filter((line) => /^(dist\/|consumer\.ts)/.test(line));
    expect(ours).toEqual([]);
  }, 120_000);
});
