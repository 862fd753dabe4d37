/** The native thread pool's size, and the registry of asynchronous steps in flight: while one
 * runs, switching the backend or the thread count would change what it is running under. */
import { setBackendRefusal } from '../native/backend.js';
import { SimdAdamError } from '../common/errors.js';
import { addon } from '../native/addon.js';
import { checkNumber } from '../common/validate.js';

let inFlight = 0;
const endListeners = new Set<() => void>();

/** Marks an asynchronous step as running; call the returned function exactly once when it ends
 * (its memory released): every listener of onAsyncStepEnd then runs, synchronously.
 * @internal */
export function beginAsyncStep(): () => void {
  inFlight++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    inFlight--;
    for (const listener of [...endListeners]) listener();
  };
}

/** Calls `listener` whenever an asynchronous step of this thread ends; returns the unsubscribe.
 * @internal */
export function onAsyncStepEnd(listener: () => void): () => void {
  endListeners.add(listener);
  return () => endListeners.delete(listener);
}

/** Resolves once `busy()` is false: checked as each asynchronous step of this thread ends (in
 * the same turn, before the code awaiting that step resumes), and every millisecond for steps
 * of other workers, which cannot tell this thread.
 * @internal */
export function whenNotBusy(busy: () => boolean): Promise<void> {
  if (!busy()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const check = (): void => {
      if (done) return;
      let failure: unknown = undefined;
      try {
        if (busy()) return;
      } catch (error) {
        failure = error ?? new Error('busy() threw');
      }
      done = true;
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      if (failure === undefined) resolve();
      else reject(failure);
    };
    const unsubscribe = onAsyncStepEnd(check);
    const poll = (): void => {
      timer = setTimeout(() => {
        check();
        if (!done) poll();
      }, 1);
    };
    poll();
  });
}

function busyReason(): string | undefined {
  return inFlight > 0 ? `${inFlight} stepAsync() call${inFlight === 1 ? ' is' : 's are'} still running; await ${inFlight === 1 ? 'it' : 'them'} first` : undefined;
}

setBackendRefusal(busyReason);

/**
 * Sets how many threads a large step uses, the calling thread included. The default is the
 * number of cores this process may run on (its CPU affinity, as `os.availableParallelism()`),
 * set once by the addon; importing simd-adam (in a worker, say) never changes it. Steps under
 * about 128K elements always stay on the calling thread. Results are bit-identical whatever
 * the count. The pool is shared by every optimizer (and every worker thread) of the process:
 * a change waits for a step another thread is running on it.
 *
 * @param n An integer from 1 to 1024.
 * @throws TypeError / RangeError `ERR_OPTION` for anything else, before anything changes;
 *   SimdAdamError `ERR_BUSY` while a stepAsync() of this thread is in flight.
 */
export function setNumThreads(n: number): void {
  const where = 'setNumThreads()';
  checkNumber(n, 'n', where, { min: 1, max: 1024, maxInclusive: true, integer: true });
  const busy = busyReason();
  if (busy) throw new SimdAdamError('ERR_BUSY', `${where}: cannot change the thread count now: ${busy}`);
  addon.setNumThreads(n);
}

/** The number of threads a large step uses, the calling thread included: an integer ≥ 1,
 * by default `os.availableParallelism()`. */
export function numThreads(): number {
  return addon.numThreads();
}
