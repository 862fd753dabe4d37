/**
 * Reduced-precision state, measured (`npm run bench:lowbit`): at 16M floats
 * (`SIMD_ADAM_LOWBIT_FLOATS` sets another size; `SIMD_ADAM_LOWBIT_THREADS` another thread count), the optimizer step
 * with float32, bfloat16 and 8-bit state, interleaved, medians, at the default thread count,
 * beside the traffic probes that bound each (28, 20 and 16.06 bytes/element, no math); and the
 * bare kernels in cache on one thread (no call overhead), which show what the arithmetic costs
 * when memory is not the limit. On x86-64 with AVX-512F also the 8-bit step's bound (probe
 * 'update-q8'): the float32 update over 8-bit traffic with free (de)quantizing, which no 8-bit
 * kernel that computes torchao's codes can beat. Prints a markdown table (docs/lowbit.md holds a
 * reading).
 */
import { cpus, loadavg } from 'node:os';

import { Adam, numThreads, Parameter, setNumThreads, type StateDtype } from '../src/index.js';
import { TableWriter } from '../src/engine/segment_table.js';
import { probes } from './probe_addon.js';
import { median, probeArrays } from './roofline.js';
import { timeCall, type Timed } from './targets.js';

const BIG = Number(process.env.SIMD_ADAM_LOWBIT_FLOATS ?? 16 * 1024 * 1024);
const SMALL = 16 * 1024;
const ROUNDS = Number(process.env.SIMD_ADAM_LOWBIT_ROUNDS ?? 31);
const BARE_ROUNDS = 21;
const DTYPES: readonly StateDtype[] = ['float32', 'bfloat16', '8bit'];
const BYTES: Record<StateDtype, number> = { float32: 28, bfloat16: 20, '8bit': 16 + 1 / 16 };
const TRAFFIC: Record<StateDtype, 'traffic' | 'traffic-bf16' | 'traffic-q8'> = { float32: 'traffic', bfloat16: 'traffic-bf16', '8bit': 'traffic-q8' };

function optimizer(n: number, dtype: StateDtype): { opt: Adam; p: Parameter } {
  const data = new Float32Array(n).map((_, i) => Math.sin(i) * 0.1);
  const p = new Parameter(data);
  p.grad = new Float32Array(n).map((_, i) => Math.cos(i) * 1e-3);
  const opt = new Adam([p], { stateDtype: dtype, lr: 1e-4 });
  opt.step(); // state exists, plan cached
  return { opt, p };
}

/** Every timer's samples over `rounds` rounds, each round in a rotated order (samples[timer][round]). */
function interleaveAll(timers: readonly Timed[], rounds: number): number[][] {
  timers.forEach((t) => t());
  const samples = timers.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    for (let k = 0; k < timers.length; k++) {
      const j = (k + r) % timers.length;
      samples[j]!.push(timers[j]!());
    }
  return samples;
}

/** The quartiles of `values`, by the median of each half (the middle value excluded). */
function quartiles(values: readonly number[]): [number, number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return [median(sorted.slice(0, half)), median(sorted), median(sorted.slice(sorted.length - half))];
}

/** The bare kernel of `dtype` over one in-cache segment, natively timed, one thread: the median
 * of `reps` passes. */
function bareKernel(dtype: StateDtype, n: number, reps: number): Timed {
  const { opt, p } = optimizer(n, dtype);
  const s = opt.state.get(p)!;
  const writer = new TableWriter(1);
  writer.row(0, n, 0, { param: p.data, grad: p.grad!, expAvg: s.expAvg, expAvgSq: s.expAvgSq, maxExpAvgSq: null });
  return () => median(probes().probePlan('adam', writer.buffers, writer.table, reps, false));
}

/** Whether this build and CPU have the 'update-q8' probe. */
function hasUpdateProbe(): boolean {
  const a = probeArrays(16);
  try {
    probes().probe('update-q8', a.param, a.grad, a.expAvg, a.expAvgSq, 1, false);
    return true;
  } catch {
    return false;
  }
}

const spread = ([q1, q2, q3]: [number, number, number]) => `${q2.toFixed(2)}× [${q1.toFixed(2)}–${q3.toFixed(2)}]`;

function main(): void {
  if (process.env.SIMD_ADAM_LOWBIT_THREADS) setNumThreads(Number(process.env.SIMD_ADAM_LOWBIT_THREADS));
  const threads = numThreads();
  const models = DTYPES.map((d) => optimizer(BIG, d));
  const arrays = probeArrays(BIG);
  // Each step's process CPU time too (both pool threads; they wait on a condition variable, never
  // spin): unlike wall time it leaves out the time slices other processes take on a busy machine.
  const cpu: number[][] = DTYPES.map(() => []);
  const timers: Timed[] = [
    ...models.map(({ opt }, k) => {
      const wall = timeCall(() => opt.step());
      return () => {
        const before = process.cpuUsage();
        const ns = wall();
        const used = process.cpuUsage(before);
        cpu[k]!.push((used.user + used.system) * 1e3);
        return ns;
      };
    }),
    // Two passes a round, the second timed: on this VM the first pass of every probe call runs
    // about 1.8x slower than the next (19 ms against 10.7 at 16M, interleaved with steps; cause
    // not found), which would make the roofline slower than the step it bounds.
    ...DTYPES.map((d) => () => probes().probe(TRAFFIC[d], arrays.param, arrays.grad, arrays.expAvg, arrays.expAvgSq, 2, threads > 1)[1]!),
  ];
  // Arrays of its own: the traffic probes leave bit patterns in theirs that may read as subnormal
  // floats, which would slow the update down.
  const bound = hasUpdateProbe() ? probeArrays(BIG) : null;
  if (bound) timers.push(() => probes().probe('update-q8', bound.param, bound.grad, bound.expAvg, bound.expAvgSq, 2, threads > 1)[1]!);
  const load = loadavg()[0]!;
  const samples = interleaveAll(timers, ROUNDS);
  const m = samples.map(median);
  const step = m.slice(0, 3), roof = m.slice(3, 6);
  // Each round's own ratio to the float32 step of the same round, whose timings lie at most a
  // few steps apart: a change of load between rounds moves both sides of such a ratio alike.
  const paired = DTYPES.map((_, k) => quartiles(samples[k]!.map((t, r) => t / samples[0]![r]!)));
  const cpuRounds = cpu.map((c) => c.slice(1)); // the warm-up call's sample left out
  const cpuPaired = DTYPES.map((_, k) => quartiles(cpuRounds[k]!.map((t, r) => t / cpuRounds[0]![r]!)));
  // In cache the arithmetic is all there is: the least of interleaved medians is its cost with
  // the fewest interruptions from other processes (one median alone varied by ±15% under load).
  const small = probeArrays(SMALL);
  const bareTimers = DTYPES.map((d) => bareKernel(d, SMALL, 201));
  if (bound) bareTimers.push(() => median(probes().probe('update-q8', small.param, small.grad, small.expAvg, small.expAvgSq, 201, false)));
  const bare = interleaveAll(bareTimers, BARE_ROUNDS).map((t) => Math.min(...t));
  const lines = [
    `${BIG >= 1 << 20 ? `${BIG / (1 << 20)}M` : BIG} floats, ${threads} threads, ${ROUNDS} interleaved rounds, medians; load average ${load.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after ` +
      `(${cpus().length} CPUs); bare kernels: ${SMALL / 1024}K floats in cache, one thread, the least of ${BARE_ROUNDS} interleaved medians of 201 passes. "vs float32": the ratio of the medians; ` +
      `"per round": the median [quartiles] of each round's ratio to that round's float32 step; "CPU time": the same for the process CPU time of the step.`,
    '',
    '| state | step (ms) | vs float32 | per round | CPU time per round | roofline B/element | roofline (ms) | step / roofline | step GB/s | bare kernel in cache (ns/element) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...DTYPES.map((d, k) => {
      const gbs = (BYTES[d] * BIG) / step[k]!;
      return `| ${d} | ${(step[k]! / 1e6).toFixed(2)} | ${(step[k]! / step[0]!).toFixed(2)}× | ${spread(paired[k]!)} | ${spread(cpuPaired[k]!)} | ${BYTES[d].toFixed(2)} | ${(roof[k]! / 1e6).toFixed(2)} | ${(step[k]! / roof[k]!).toFixed(2)} | ${gbs.toFixed(1)} | ${(bare[k]! / SMALL).toFixed(3)} |`;
    }),
  ];
  if (bound) {
    const q = quartiles(samples[6]!.map((t, r) => t / samples[0]![r]!));
    lines.push(
      '',
      `Bound of the 8-bit step (probe update-q8: the float32 update over 8-bit traffic, (de)quantizing free): ${(m[6]! / 1e6).toFixed(2)} ms, ` +
        `${(m[6]! / step[0]!).toFixed(2)}× the float32 step, per round ${spread(q)}; ${(bare[3]! / SMALL).toFixed(3)} ns/element in cache.`,
    );
  }
  console.log(lines.join('\n'));
}

main();
