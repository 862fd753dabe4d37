/** The native thread pool's size, and the registry of asynchronous steps in flight: while one
 * runs, switching the backend or the thread count would change what it is running under. */
import { availableParallelism } from 'node:os';

import { setBackendRefusal } from '../native/backend.js';
import { SimdAdamError } from '../common/errors.js';
import { addon } from '../native/addon.js';
import { checkNumber } from '../common/validate.js';

let inFlight = 0;

/** Marks an asynchronous step as running; call the returned function exactly once when it ends.
 * @internal */
export function beginAsyncStep(): () => void {
  inFlight++;
  let ended = false;
  return () => {
    if (!ended) inFlight--;
    ended = true;
  };
}

function busyReason(): string | undefined {
  return inFlight > 0 ? `${inFlight} stepAsync() call${inFlight === 1 ? ' is' : 's are'} still running; await ${inFlight === 1 ? 'it' : 'them'} first` : undefined;
}

setBackendRefusal(busyReason);

/**
 * Sets how many threads a large step uses, the calling thread included. The default is the
 * number of cores this process may run on (`os.availableParallelism()`). Steps under 128K
 * elements always stay on the calling thread. Results are bit-identical whatever the count.
 * The pool is shared by every optimizer (and every worker thread) of the process.
 * @param n An integer from 1 to 1024.
 * @throws TypeError / RangeError `ERR_OPTION` for anything else; SimdAdamError `ERR_BUSY` while
 *   a stepAsync() is in flight.
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

// hardware_concurrency counts the host's cores; availableParallelism honours CPU affinity.
addon.setNumThreads(Math.max(1, availableParallelism()));
