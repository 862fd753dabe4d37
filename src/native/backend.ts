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

/** The backend that `step()` uses now. */
export function backend(): BackendName {
  return jsSelected ? 'js' : (addon.current() as BackendName);
}

/** The backends this CPU can run, best first, `'js'` last. */
export function availableBackends(): BackendName[] {
  const native = addon.backends().filter((b) => b.supported).map((b) => b.name as BackendName);
  return [...native, 'js'];
}

/** Forces a backend (tests, benchmarks). Unknown names are a RangeError; a backend this CPU or
 * build cannot run is a SimdAdamError with code ERR_BACKEND. */
export function setBackend(name: BackendName): void {
  select(name, 'setBackend()');
}

/** Lets the throughput layer refuse a switch while a step is in flight. */
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
