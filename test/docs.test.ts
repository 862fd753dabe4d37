/** The docs: typedoc builds the API reference with no warnings, no doc or comment cites a file
 * the repository does not hold, and no doc the package ships links to a file it does not ship. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

import { danglingReferences, danglingReferencesInRepo, linksOutsidePackage } from './support/references.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'simd-adam-docs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('builds an HTML reference of the public API without warnings', () => {
  const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const log = execFileSync(process.execPath, [typedoc, '--out', out, '--treatWarningsAsErrors'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  expect(log).not.toMatch(/\[warning\]/);
  // One module per package entry: `simd-adam` and `simd-adam/tfjs`.
  const pages = ['index.html', 'modules/simd-adam.html', 'modules/simd-adam_tfjs.html'];
  pages.push(...['Adam', 'AdamW', 'Parameter'].map((name) => `classes/simd-adam.${name}.html`));
  pages.push(...['SimdAdam', 'SimdAdamW'].map((name) => `classes/simd-adam_tfjs.${name}.html`), 'interfaces/simd-adam_tfjs.SimdAdamOptions.html');
  for (const page of pages) expect(existsSync(join(out, page)), page).toBe(true);
  expect(readFileSync(join(out, 'classes/simd-adam.Parameter.html'), 'utf8')).toContain('requiresGrad');
  expect(readFileSync(join(out, 'classes/simd-adam_tfjs.SimdAdam.html'), 'utf8')).toContain('applyGradients');
  // The front page is the overview (docs/overview.md), and implementation types stay out.
  expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('Where to start');
  for (const page of ['interfaces/simd-adam.LoadedEntry.html', 'classes/simd-adam_tfjs.Executor.html', 'classes/simd-adam_tfjs.VariableTable.html']) {
    expect(existsSync(join(out, page)), page).toBe(false);
  }
}, 60_000);

describe('references to files', () => {
  it('every file a tracked doc, comment or script cites exists in the repository', () => {
    const dangling = danglingReferencesInRepo(root).map((d) => `${d.file}:${d.line}: ${d.reference}`);
    expect(dangling).toEqual([]);
  });

  it('reports a cited file the repository does not hold, and accepts the ones it does', () => {
    const tracked = ['README.md', 'docs/api.md', 'docs/errors.md', 'src/optim/adam.ts', 'native/kernels/adam_body.h'];
    // Spelled with ${dot} so that this file itself cites none of the missing files.
    const dot = '.';
    const text = [
      `See [the API](docs/api.md#param-groups), [errors](docs/errors.md) and https://example.com/x/DESIGN${dot}md.`,
      `The contract is in DESIGN${dot}md; the kernel body in adam_body.h; the optimizer in src/optim/adam.ts.`,
      `Gone: [a guide](docs/guide${dot}md), src/adam${dot}ts, native/plan_layout${dot}h and the flags in TOOLCHAIN${dot}md.`,
      `No such section: [options](errors.md#the-options).`,
    ].join('\n');
    const found = danglingReferences(root, 'docs/api.md', text, tracked).map((d) => `${d.line}: ${d.reference}`);
    expect(found.sort()).toEqual([
      ...['3: docs/guide', '2: DESIGN', '3: src/adam', '3: native/plan_layout', '3: TOOLCHAIN'].map((r, i) => r + dot + ['md', 'md', 'ts', 'h', 'md'][i]),
      '4: errors.md#the-options',
    ].sort());
  });
});

describe('links in the shipped docs', () => {
  it('every relative link in a Markdown file npm pack ships leads to a file it ships too', () => {
    // The file list `npm pack` would ship, without running prepack (it builds the prebuilds).
    const quiet = { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' };
    const packed = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', env: quiet });
    const [info] = JSON.parse(packed) as Array<{ files: Array<{ path: string }> }>;
    const shipped = info!.files.map((f) => f.path);
    const docs = shipped.filter((f) => f.endsWith('.md'));
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/tfjs.md']));
    const outside = docs.flatMap((file) => linksOutsidePackage(file, readFileSync(join(root, file), 'utf8'), shipped));
    expect(outside.map((d) => `${d.file}:${d.line}: ${d.reference}`)).toEqual([]);
  }, 60_000);

  it('reports a link from a shipped doc to a file the package does not ship, and accepts links within it', () => {
    const shipped = ['README.md', 'docs/api.md', 'docs/errors.md', 'dist/index.js', 'package.json'];
    const text = [
      'See [errors](errors.md#codes), [the README](../README.md), [dist](../dist/), [npm](https://www.npmjs.com/) and [this](#top).',
      'The results are in [latest](../bench/results/latest.md) and',
      '[a test](../native/test/kernels_test.cc), [an example](../examples/demo.ts).',
      '```md',
      '[not a link: fenced](../test/x.test.ts)',
      '```',
    ].join('\n');
    const found = linksOutsidePackage('docs/api.md', text, shipped).map((d) => `${d.line}: ${d.reference}`);
    expect(found).toEqual(['2: ../bench/results/latest.md', '3: ../native/test/kernels_test.cc', '3: ../examples/demo.ts']);
  });
});

describe('the public API documents itself', () => {
  // The TypeScript compiler's own view of what the package's entries export, docs included.
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  })!;
  const entries = ['src/index.ts', 'src/tfjs/index.ts'].map((entry) => join(root, entry));
  const program = ts.createProgram(entries, config.options);
  const checker = program.getTypeChecker();
  // The two entries export no name in common.
  const exports = new Map(
    entries.flatMap((entry) =>
      checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!).map((s) => [
        s.name,
        s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s,
      ]),
    ),
  );
  const docOf = (symbol: ts.Symbol) =>
    [ts.displayPartsToString(symbol.getDocumentationComment(checker)), ...symbol.getJsDocTags().map((t) => ts.displayPartsToString(t.text))].join(' ');

  it('states the default of every option of every exported options type', () => {
    const optionTypes = [...exports.keys()].filter((name) => /Options$/.test(name) || ['AdamHyperparameters', 'ParameterSpec', 'CheckpointExtras'].includes(name));
    expect(optionTypes.length).toBeGreaterThan(15);
    const undocumented: string[] = [];
    for (const name of optionTypes) {
      const properties = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(exports.get(name)!));
      expect(properties.length, name).toBeGreaterThan(0);
      for (const property of properties) if (!/\bdefault\b/i.test(docOf(property))) undocumented.push(`${name}.${property.name}`);
    }
    expect(undocumented).toEqual([]);
  });

  it('describes every error code in docs/errors.md', () => {
    const codes = checker.getDeclaredTypeOfSymbol(exports.get('ErrorCode')!);
    const names = (codes.isUnion() ? codes.types : [codes]).map((t) => (t as ts.StringLiteralType).value);
    expect(names).toContain('ERR_OPTION');
    const table = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    expect(names.filter((code) => !table.includes(`| \`${code}\` |`))).toEqual([]);
  });
});
