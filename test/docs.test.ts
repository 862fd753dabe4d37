/** `npm run docs`: typedoc builds the API reference from the TSDoc comments, with no warnings. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

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
  for (const page of ['index.html', 'classes/Adam.html', 'classes/AdamW.html', 'classes/Parameter.html']) {
    expect(existsSync(join(out, page)), page).toBe(true);
  }
  expect(readFileSync(join(out, 'classes/Parameter.html'), 'utf8')).toContain('requiresGrad');
}, 60_000);
