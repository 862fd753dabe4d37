/** Runs in a worker thread: trains a deterministic little problem and posts the final values.
 * With `shared`, steps Parameters over the SharedArrayBuffers it was given instead. */
import { parentPort, workerData } from 'node:worker_threads';

import { Adam, backend, Parameter, setBackend, type BackendName } from '../../src/index.js';
import { trainDeterministic } from './train.js';

interface Job {
  backend: BackendName;
  seed: number;
  steps: number;
  shared?: { data: SharedArrayBuffer; grad: SharedArrayBuffer; length: number };
}

const job = workerData as Job;
setBackend(job.backend);
if (job.shared) {
  const p = new Parameter(new Float32Array(job.shared.data, 0, job.shared.length));
  const opt = new Adam([p], { lr: 0.01, weightDecay: 0.1, amsgrad: true });
  const grad = new Float32Array(job.shared.grad, 0, job.shared.length);
  for (let s = 0; s < job.steps; s++) {
    p.grad = grad;
    opt.step();
  }
  parentPort!.postMessage({ backend: backend() });
} else {
  parentPort!.postMessage({ backend: backend(), result: trainDeterministic(job.seed, job.steps) });
}
