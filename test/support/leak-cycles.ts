/**
 * Run as a child process with --expose-gc: creates optimizers over fresh parameters, steps them
 * and drops everything, many times; prints RSS (MB) after GC at the start and at the end.
 *   node --expose-gc --import tsx test/support/leak-cycles.ts <cycles>
 */
import { Adam, AdamW, Parameter } from '../../src/index.js';

const cycles = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function cycle(i: number): void {
  const w = new Parameter(new Float32Array(64).fill(0.5), { name: 'w' });
  const b = new Parameter(new Float32Array(8), { name: 'b' });
  const opt = i % 2 ? new Adam([w, b], { amsgrad: true }) : new AdamW([{ params: [w] }, { params: [b], lr: 0.1 }]);
  w.grad = new Float32Array(64).fill(0.1);
  b.grad = new Float32Array(8).fill(-0.1);
  opt.step();
  opt.step();
  opt.zeroGrad();
  const snapshot = opt.stateDict();
  if (Object.keys(snapshot.state).length !== 2) throw new Error('expected state for both parameters');
}

function rssAfterGc(): number {
  for (let k = 0; k < 3; k++) gc!();
  return process.memoryUsage().rss / 2 ** 20;
}

// Warm up until V8's heap and the allocator's pools reach their steady size (about 25 MB above
// a cold start, whatever the cycle count): growth after that point would be a leak.
for (let i = 0; i < 20_000; i++) cycle(i);
const start = rssAfterGc();
for (let i = 0; i < cycles / 2; i++) cycle(i);
const middle = rssAfterGc();
for (let i = cycles / 2; i < cycles; i++) cycle(i);
const end = rssAfterGc();
console.log(JSON.stringify({ cycles, startMb: start, middleMb: middle, endMb: end }));
