import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend } from '../src/index.js';
import { addon } from '../src/native/addon.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const initial = backend();
afterAll(() => setBackend(initial));

/** What this CPU supports, read independently of the addon (Linux only). */
function cpuFlags(): Set<string> | null {
  try {
    const text = execFileSync('cat', ['/proc/cpuinfo'], { encoding: 'utf8' });
    const line = text.split('\n').find((l) => l.startsWith('flags') || l.startsWith('Features'));
    return line ? new Set(line.split(':')[1]!.trim().split(/\s+/)) : null;
  } catch {
    return null;
  }
}

describe('backend selection', () => {
  it('defaults to the best backend the CPU supports', () => {
    const flags = cpuFlags();
    if (process.arch === 'x64' && flags) {
      const best = flags.has('avx512f') ? 'avx512' : flags.has('avx2') && flags.has('fma') ? 'avx2' : 'scalar';
      expect(initial).toBe(best);
    } else if (process.arch === 'arm64') {
      expect(initial).toBe('neon');
    }
    expect(availableBackends()[0]).toBe(initial);
  });

  it('lists what this CPU can run, best first, js last', () => {
    const list = availableBackends();
    expect(list.at(-1)).toBe('js');
    expect(list).toContain('scalar');
    const order = ['avx512', 'avx2', 'neon', 'scalar', 'js'];
    expect([...list].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(list);
    const unsupported = addon.backends().filter((b) => !b.supported).map((b) => b.name);
    for (const name of unsupported) expect(list).not.toContain(name);
  });

  it('can be forced to every available backend and back', () => {
    for (const name of availableBackends()) {
      setBackend(name);
      expect(backend()).toBe(name);
    }
    setBackend(initial);
    expect(backend()).toBe(initial);
  });

  function importWith(env: Record<string, string>) {
    return spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', "import('./src/index.ts').then((m) => console.log(m.backend()))"],
      { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' },
    );
  }

  it('honours SIMD_ADAM_BACKEND at import', () => {
    const result = importWith({ SIMD_ADAM_BACKEND: 'scalar' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('scalar');
    expect(importWith({ SIMD_ADAM_BACKEND: 'js' }).stdout.trim()).toBe('js');
  });

  it('fails loudly at import when SIMD_ADAM_BACKEND names a backend it cannot use', () => {
    const unknown = importWith({ SIMD_ADAM_BACKEND: 'gpu' });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/SIMD_ADAM_BACKEND: unknown backend 'gpu'/);
    const missing = importWith({ SIMD_ADAM_BACKEND: process.arch === 'arm64' ? 'avx512' : 'neon' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/ERR_BACKEND|not available on this machine/);
  });
});
