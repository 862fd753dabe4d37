/**
 * What the non-finite guard costs: step() with nonFinite 'propagate' (no pre-pass) against
 * 'skip' (a read-only pass over every gradient before the update, in the same native crossing),
 * at an in-cache size and a DRAM-bound size. Modes alternate in rounds so that drift (thermal,
 * other load) hits both alike; the report gives medians.
 *
 *   npx tsx bench/guard.ts [--backend avx512] [--rounds 15]
 */
import { Adam, backend, Parameter, setBackend, type BackendName, type NonFiniteMode } from '../src/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const forced = arg('backend');
if (forced) setBackend(forced as BackendName);
const rounds = Number(arg('rounds') ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function optimizer(n: number, nonFinite: NonFiniteMode): Adam {
  const p = new Parameter(new Float32Array(n).fill(0.5));
  p.grad = new Float32Array(n).map((_, i) => Math.sin(i) * 1e-2);
  const opt = new Adam([p], { lr: 1e-4, nonFinite });
  opt.step(); // state allocated outside the timed region
  return opt;
}

/** Nanoseconds per step(), timing `batch` consecutive steps. */
function timeSteps(opt: Adam, batch: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) opt.step();
  return Number(process.hrtime.bigint() - start) / batch;
}

const sizes: Array<[string, number, number]> = [
  ['64K', 64 * 1024, 200],
  ['16M', 16 * 1024 * 1024, 3],
];

console.log(`guard cost, backend ${backend()}, ${rounds} rounds, medians (1 thread)`);
console.log('size   propagate ns/step (ns/elem)   skip ns/step (ns/elem)   skip/propagate');
for (const [label, n, batch] of sizes) {
  const modes: NonFiniteMode[] = ['propagate', 'skip'];
  const opts = modes.map((m) => optimizer(n, m));
  opts.forEach((o) => timeSteps(o, batch)); // warm-up
  const samples: number[][] = modes.map(() => []);
  for (let r = 0; r < rounds; r++) opts.forEach((o, k) => samples[k]!.push(timeSteps(o, batch)));
  const [prop, skip] = samples.map(median) as [number, number];
  const per = (t: number) => `${(t / 1000).toFixed(1).padStart(9)} µs (${(t / n).toFixed(3)})`;
  console.log(`${label.padEnd(6)} ${per(prop).padEnd(30)} ${per(skip).padEnd(24)} ${(skip / prop).toFixed(3)}`);
}
