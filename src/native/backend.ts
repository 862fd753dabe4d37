/** Which kernel runs: the best the CPU supports, unless forced by setBackend() or the
 * SIMD_ADAM_BACKEND environment variable (read once, at import). */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { addon } from './addon.js';
import { describe } from '../common/validate.js';

/** `'js'` is the TypeScript reference kernel; the others are native. */
export type BackendName = 'avx512' | 'avx2' | 'neon' | 'scalar' | 'js';

const KNOWN: readonly BackendName[] = ['avx512', 'avx2', 'neon', 'scalar', 'js'];

let jsSelected = false;
let refusal: (() => string | undefined) | undefined;

/** The backend that `step()` uses now, on this thread: the best that the CPU supports unless
 * `setBackend()` or `SIMD_ADAM_BACKEND` chose another. */
export function backend(): BackendName {
  return jsSelected ? 'js' : (addon.current() as BackendName);
}

/** The backends this CPU and build can run, best first (`'avx512'`, `'avx2'`, `'neon'`,
 * `'scalar'`, as supported), `'js'` (the TypeScript reference) last. */
export function availableBackends(): BackendName[] {
  const native = addon.backends().filter((b) => b.supported).map((b) => b.name as BackendName);
  return [...native, 'js'];
}

/** Forces a backend (tests, benchmarks) for the calling thread; each worker thread chooses its
 * own. All backends give bit-identical results, so this changes speed only. Never a silent
 * fallback: the environment variable `SIMD_ADAM_BACKEND` makes the same choice at import, and
 * fails the same way.
 * @param name One of {@link BackendName}; see {@link availableBackends}.
 * @throws TypeError `ERR_BACKEND` for a name that is not a string; RangeError `ERR_BACKEND` for
 *   an unknown name; SimdAdamError `ERR_BACKEND` for a backend this CPU or build cannot run;
 *   SimdAdamError `ERR_BUSY` while any stepAsync() is in flight. */
export function setBackend(name: BackendName): void {
  select(name, 'setBackend()');
}

/** Lets the throughput layer refuse a switch while a step is in flight.
 * @internal */
export function setBackendRefusal(check: () => string | undefined): void {
  refusal = check;
}

export function isJsBackend(): boolean {
  return jsSelected;
}

function select(name: unknown, where: string): void {
  if (typeof name !== 'string') {
    throw typeError('ERR_BACKEND', `${where}: the backend name must be a string, got ${describe(name)}`);
  }
  if (!KNOWN.includes(name as BackendName)) {
    throw rangeError('ERR_BACKEND', `${where}: unknown backend '${name}'; expected one of ${KNOWN.join(', ')}`);
  }
  const busy = refusal?.();
  if (busy) throw new SimdAdamError('ERR_BUSY', `${where}: cannot switch backends now: ${busy}`);
  if (name === 'js') {
    jsSelected = true;
    return;
  }
  if (!addon.select(name)) {
    throw new SimdAdamError(
      'ERR_BACKEND',
      `${where}: backend '${name}' is not available on this machine (${process.arch}); ` +
        `available: ${availableBackends().join(', ')}`,
    );
  }
  jsSelected = false;
}

const forced = process.env.SIMD_ADAM_BACKEND;
if (forced !== undefined && forced !== '') select(forced, 'SIMD_ADAM_BACKEND');
