/**
 * A quick measurement for the core: ns/element of one Adam step on a single tensor, per backend,
 * at an in-cache size (64K floats) and a DRAM size (16M floats). Medians of repeated steps; the
 * full suite (peers, roofline, many-tensor workloads) is `npm run bench`.
 *
 *   npx tsx bench/quick.ts [--sizes 65536,16777216] [--backends avx512,js] [--threads 1]
 */
import { parseArgs } from 'node:util';

import { Adam, availableBackends, numThreads, Parameter, setBackend, setNumThreads, type BackendName } from '../src/index.js';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '65536,16777216' }, backends: { type: 'string' }, threads: { type: 'string' } },
});
const sizes = values.sizes!.split(',').map(Number);
const backends = (values.backends?.split(',') as BackendName[] | undefined) ?? availableBackends();
if (values.threads) setNumThreads(Number(values.threads));
console.log(`threads: ${numThreads()}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(n: number, name: BackendName): number {
  setBackend(name);
  const p = new Parameter(new Float32Array(n).map((_, i) => Math.sin(i)));
  const opt = new Adam([p], { lr: 1e-3, weightDecay: 0.01 });
  p.grad = new Float32Array(n).map((_, i) => Math.cos(i) * 1e-2);
  const budgetNs = name === 'js' ? 3e9 : 1.5e9;
  const repeats = Math.max(5, Math.min(2000, Math.floor(budgetNs / (n * (name === 'js' ? 5 : 1)))));
  for (let i = 0; i < Math.min(3, repeats); i++) opt.step(); // warm-up: allocate state, fault pages in
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    opt.step();
    samples.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return median(samples);
}

const rows: Array<Record<string, string>> = [];
for (const n of sizes) {
  const results = backends.map((b) => [b, measure(n, b)] as const);
  const js = results.find(([b]) => b === 'js')?.[1];
  for (const [b, ns] of results) {
    rows.push({
      floats: String(n),
      backend: b,
      'ns/element': ns.toFixed(3),
      'GB/s (28 B/elt)': (28 / ns).toFixed(1),
      'vs js': js ? `${(js / ns).toFixed(1)}×` : '',
    });
  }
}
console.table(rows);
