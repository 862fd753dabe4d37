/**
 * Run as a child process with --expose-gc: creates optimizers over fresh parameters, steps them
 * and drops everything, many times; prints RSS (MB) after GC at the start and at the end.
 *   node --expose-gc --import tsx test/support/leak-cycles.ts <cycles>
 */
import { Adam, AdamW, Parameter } from '../../src/index.js';

const cycles_ = Number(process.argv[2] ?? 100_000);
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

// Node runs Node-API finalizers (those of the addon's prepared step plans among them) from the
// event loop, not inside a synchronous loop: like a real training loop, which awaits data, this
// one lets the loop turn every 1000 cycles. The buffers of a dropped optimizer do not wait for
// that (the plan holds them weakly); only the plans' small native records do.
async function cycles(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    cycle(i);
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve));
}

// Warm up until V8's heap and the allocator's pools reach their steady size: growth after that
// point would be a leak.
await cycles(0, 20_000);
const start = rssAfterGc();
await cycles(0, cycles_ / 2);
const middle = rssAfterGc();
await cycles(cycles_ / 2, cycles_);
const end = rssAfterGc();
console.log(JSON.stringify({ cycles: cycles_, startMb: start, middleMb: middle, endMb: end }));
