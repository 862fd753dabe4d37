/**
 * `npm run bench:checkpoint`: peak RSS and throughput of checkpoint files, each measured in a
 * child process of its own so that nothing else lives in its memory.
 *
 * - write: an Adam optimizer over one parameter of `--floats` elements (default 300M), stepped
 *   once; `writeStateDict(path, opt, { params })` against `cp` of the same file (and `cp` plus
 *   an fsync of the copy, since our write fsyncs), interleaved, `--runs` times (default 3). Each
 *   replaces its previous run's file, as a training loop that checkpoints to one path does.
 * - read: `readStateDict(path)` against `cp` of the file and `cp FILE /dev/null`, interleaved;
 *   then one `loadStateDict` of what was read into a fresh optimizer. Reading into fresh arrays
 *   pays a page fault per 4 KiB the first time they are touched; `cp` to /dev/null reuses one
 *   small buffer and pays none, `cp` to a file allocates page cache in the kernel instead.
 * - `--roundtrip FLOATS` (the issue asks for 420M): writes params and both moments filled with
 *   hashed bit patterns (NaNs with payloads, ±0, ±Inf, subnormals), reads the file back in
 *   another process and compares every bit.
 *
 * Peak RSS is the kernel's high-water mark (VmHWM), reset before each measured call by writing 5
 * to /proc/self/clear_refs. Files go to `--dir` (default the system's temporary directory) and
 * are removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Adam, Parameter, readStateDict, writeStateDict } from '../src/index.js';
import { f32State } from '../test/support/float32_state.js';

const MiB = 2 ** 20;
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};

/** The kernel's peak RSS since the last reset, in bytes; elsewhere than Linux, the process's
 * peak so far (which the reset cannot lower: run one measurement per process there). */
function peakRss(): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  } catch {
    return process.resourceUsage().maxRSS * 1024;
  }
}

function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux: peakRss() falls back to the process's lifetime peak.
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function seconds(run: () => void): number {
  const t0 = performance.now();
  run();
  return (performance.now() - t0) / 1000;
}

/** 32 hashed bits per element (splitmix-like), so every float32 bit pattern can occur. */
function hashBits(i: number, seed: number): number {
  let x = (i ^ Math.imul(seed, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** One stepped Adam over one parameter of n floats; the grad is dropped before returning. */
function optimizer(n: number): { p: Parameter; opt: Adam } {
  const p = new Parameter(new Float32Array(n).fill(0.5), { name: 'w' });
  const opt = new Adam([p]);
  p.grad = new Float32Array(n).fill(0.25);
  opt.step();
  p.grad = null;
  return { p, opt };
}

async function childWrite(path: string, n: number, runs: number): Promise<object> {
  const { p, opt } = optimizer(n);
  (globalThis as { gc?: () => void }).gc?.();
  const out = { live: 3 * n * 4, rssBefore: [] as number[], peak: [] as number[], ours: [] as number[], cp: [] as number[], cpSync: [] as number[] };
  for (let r = 0; r < runs; r++) {
    out.rssBefore.push(process.memoryUsage.rss());
    resetPeak();
    const t0 = performance.now();
    await writeStateDict(path, opt, { params: [p] });
    out.ours.push((performance.now() - t0) / 1000);
    out.peak.push(peakRss());
    // Each copy replaces the previous run's, as our write replaces its file: both pay for
    // freeing the old blocks.
    out.cp.push(seconds(() => execFileSync('cp', [path, `${path}.cp`])));
    out.cpSync.push(seconds(() => execFileSync('sh', ['-c', 'cp "$1" "$2" && sync "$2"', 'sh', path, `${path}.cps`])));
  }
  rmSync(`${path}.cp`);
  rmSync(`${path}.cps`);
  return out;
}

async function childRead(path: string, runs: number): Promise<object> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const out = { arrays: 0, rssBefore: [] as number[], peak: [] as number[], ours: [] as number[], cp: [] as number[], cpNull: [] as number[], loadPeak: 0, loadBefore: 0, loadSeconds: 0, stateBytes: 0 };
  for (let r = 0; r < runs; r++) {
    gc();
    out.rssBefore.push(process.memoryUsage.rss());
    resetPeak();
    const t0 = performance.now();
    let ck: Awaited<ReturnType<typeof readStateDict>> | undefined = await readStateDict(path);
    out.ours.push((performance.now() - t0) / 1000);
    out.peak.push(peakRss());
    out.arrays = Object.values(ck.params!).reduce((s, t) => s + t.data.byteLength, 0) +
      Object.values(ck.state).reduce((s, e) => s + (e.exp_avg as Float32Array).byteLength + (e.exp_avg_sq as Float32Array).byteLength, 0);
    if (r === runs - 1) {
      const p = new Parameter(new Float32Array(ck.params!.w!.data.length), { name: 'w' });
      p.data.set(ck.params!.w!.data);
      const opt = new Adam([p]);
      out.loadBefore = process.memoryUsage.rss();
      resetPeak();
      const t1 = performance.now();
      opt.loadStateDict(ck);
      out.loadSeconds = (performance.now() - t1) / 1000;
      out.loadPeak = peakRss();
      out.stateBytes = 2 * p.numel * 4;
    }
    ck = undefined;
    out.cp.push(seconds(() => execFileSync('cp', [path, `${path}.cp`])));
    out.cpNull.push(seconds(() => execFileSync('cp', [path, '/dev/null'])));
  }
  rmSync(`${path}.cp`);
  return out;
}

async function childFill(path: string, n: number): Promise<object> {
  const { p, opt } = optimizer(n);
  const s = f32State(opt.state.get(p));
  const views = [p.data, s.expAvg, s.expAvgSq].map((v) => new Uint32Array(v.buffer, v.byteOffset, v.length));
  views.forEach((v, k) => {
    for (let i = 0; i < n; i++) v[i] = hashBits(i, k + 1);
  });
  s.step = 2 ** 40 + 7;
  const t0 = performance.now();
  await writeStateDict(path, opt, { params: [p], metadata: { floats: n } });
  return { seconds: (performance.now() - t0) / 1000, bytes: statSync(path).size };
}

async function childVerify(path: string, n: number): Promise<object> {
  resetPeak();
  const t0 = performance.now();
  const ck = await readStateDict(path);
  const seconds = (performance.now() - t0) / 1000;
  const peak = peakRss();
  const tensors = [ck.params!.w!.data, ck.state[0]!.exp_avg as Float32Array, ck.state[0]!.exp_avg_sq as Float32Array];
  let mismatches = 0;
  tensors.forEach((t, k) => {
    const bits = new Uint32Array(t.buffer, t.byteOffset, t.length);
    if (bits.length !== n) mismatches += n;
    for (let i = 0; i < bits.length; i++) if (bits[i] !== hashBits(i, k + 1)) mismatches++;
  });
  const stepOk = ck.state[0]!.step === 2 ** 40 + 7 && (ck.metadata as { floats: number }).floats === n;
  return { seconds, peak, mismatches, stepOk };
}

function child(mode: string, ...args: string[]): Record<string, unknown> {
  const script = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, '--child', mode, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * MiB });
  if (run.status !== 0) throw new Error(`child ${mode} exited with ${run.status}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const rate = (bytes: number, s: number) => `${(bytes / s / 1e9).toFixed(2)} GB/s`;

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const [mode, path, a, b] = process.argv.slice(3) as [string, string, string, string];
    const result = mode === 'write' ? await childWrite(path, Number(a), Number(b))
      : mode === 'read' ? await childRead(path, Number(a))
      : mode === 'fill' ? await childFill(path, Number(a))
      : await childVerify(path, Number(a));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const floats = Number(arg('floats', '300e6'));
  const runs = Number(arg('runs', '3'));
  const roundtrip = Number(arg('roundtrip', '0'));
  const dir = mkdtempSync(join(arg('dir', tmpdir()), 'simd-adam-bench-ckpt-'));
  const path = join(dir, 'bench.safetensors');
  try {
    if (floats > 0) {
      const w = child('write', path, String(floats), String(runs)) as { live: number; rssBefore: number[]; peak: number[]; ours: number[]; cp: number[]; cpSync: number[] };
      const bytes = statSync(path).size;
      const r = child('read', path, String(runs)) as { arrays: number; rssBefore: number[]; peak: number[]; ours: number[]; cp: number[]; cpNull: number[]; loadPeak: number; loadBefore: number; loadSeconds: number; stateBytes: number };
      const lines = [
        `checkpoint of one ${floats / 1e6}M-float parameter with Adam state: file ${gib(bytes)}, ${runs} interleaved runs, medians`,
        '',
        '| | peak RSS | bound | time | throughput | cp | cp ratio |',
        '|---|---|---|---|---|---|---|',
        `| writeStateDict(path, opt) | ${gib(median(w.peak))} (RSS before ${gib(median(w.rssBefore))}) | live ${gib(w.live)} + 256 MiB = ${gib(w.live + 256 * MiB)} | ${median(w.ours).toFixed(2)} s | ${rate(bytes, median(w.ours))} | ${median(w.cp).toFixed(2)} s (cp + fsync ${median(w.cpSync).toFixed(2)} s) | ${(median(w.ours) / median(w.cp)).toFixed(2)}× cp, ${(median(w.ours) / median(w.cpSync)).toFixed(2)}× cp + fsync |`,
        `| readStateDict(path) | ${gib(median(r.peak))} (RSS before ${gib(median(r.rssBefore))}) | arrays ${gib(r.arrays)} + 256 MiB = ${gib(r.arrays + 256 * MiB)} | ${median(r.ours).toFixed(2)} s | ${rate(bytes, median(r.ours))} | ${median(r.cp).toFixed(2)} s (cp FILE /dev/null ${median(r.cpNull).toFixed(2)} s) | ${(median(r.ours) / median(r.cp)).toFixed(2)}× cp, ${(median(r.ours) / median(r.cpNull)).toFixed(2)}× cp to /dev/null |`,
        `| opt.loadStateDict(read) | ${gib(r.loadPeak)} (RSS before ${gib(r.loadBefore)}) | before + new state ${gib(r.loadBefore + r.stateBytes)} | ${r.loadSeconds.toFixed(2)} s | | | |`,
      ];
      console.log(lines.join('\n'));
      console.log(`\nper run: write ${w.ours.map((s) => s.toFixed(2)).join(', ')} s; cp ${w.cp.map((s) => s.toFixed(2)).join(', ')} s; cp + fsync ${w.cpSync.map((s) => s.toFixed(2)).join(', ')} s; read ${r.ours.map((s) => s.toFixed(2)).join(', ')} s; cp ${r.cp.map((s) => s.toFixed(2)).join(', ')} s; cp to /dev/null ${r.cpNull.map((s) => s.toFixed(2)).join(', ')} s`);
      rmSync(path, { force: true });
    }
    if (roundtrip > 0) {
      const f = child('fill', path, String(roundtrip)) as { seconds: number; bytes: number };
      const v = child('verify', path, String(roundtrip)) as { seconds: number; peak: number; mismatches: number; stepOk: boolean };
      console.log(`\nround trip of ${roundtrip / 1e6}M floats (params + 2 moments): file ${gib(f.bytes)} (${f.bytes} bytes); write ${f.seconds.toFixed(1)} s, ` +
        `read ${v.seconds.toFixed(1)} s (peak RSS ${gib(v.peak)}); ${v.mismatches} of ${3 * roundtrip} elements differ; step and metadata ${v.stepOk ? 'match' : 'DIFFER'}`);
      if (v.mismatches !== 0 || !v.stepOk) process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
