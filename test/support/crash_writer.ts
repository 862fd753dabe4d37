/**
 * Run as a child process by the crash test: writes checkpoints to argv[2] in an endless loop,
 * alternating between two fills (1 and 2), until it is killed. Prints "ready" after the first
 * complete write.
 */
import { Adam, Parameter, writeStateDict } from '../../src/index.js';
import { f32State } from './float32_state.js';

const path = process.argv[2]!;
const n = Number(process.argv[3] ?? 1 << 21);
const p = new Parameter(new Float32Array(n), { name: 'w' });
const opt = new Adam([p]);
p.grad = new Float32Array(n).fill(1);
opt.step();
const state = f32State(opt.state.get(p));

for (let i = 0; ; i++) {
  const fill = 1 + (i % 2);
  state.expAvg.fill(fill);
  state.expAvgSq.fill(fill);
  p.data.fill(fill);
  await writeStateDict(path, opt.stateDict(), { params: [p] });
  if (i === 0) process.stdout.write('ready\n');
}
