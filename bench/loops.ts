/**
 * The training loops of a real script, beside the cached loop: a backward pass that hands step()
 * new grad arrays every step (two pre-allocated sets, handed over alternately, so that the
 * allocation is not timed), the same after zeroGrad(), and ParameterStore's zeroGrad() +
 * attachGrads() loop. Each target is a ratio of medians from one interleaved run; PyTorch 1.13
 * runs the same loop in a Python child process, one step per request, when it is installed.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Adam, Parameter, ParameterStore } from '../src/index.js';
import { fill } from './models.js';
import { median } from './roofline.js';
import { interleave, target, timeCall, type Target, type Timed } from './targets.js';

/** A model whose grads come from `sets`, alternately. */
interface Loop {
  params: Parameter[];
  opt: Adam;
  /** Fresh grads (the other set), then a step. */
  fresh: () => void;
  /** zeroGrad(), fresh grads, a step. */
  zeroFresh: () => void;
  /** A step with the grads unchanged: the cached loop. */
  cached: () => void;
}

function loop(params: Parameter[]): Loop {
  const sets = [0, 1].map((k) => params.map((p, i) => fill(new Float32Array(p.numel), 2 * i + k + 7)));
  params.forEach((p, i) => (p.grad = sets[0]![i]!));
  const opt = new Adam(params, { lr: 1e-3 });
  opt.step();
  let k = 0;
  const attach = () => {
    k ^= 1;
    const set = sets[k]!;
    for (let i = 0; i < params.length; i++) params[i]!.grad = set[i]!;
  };
  return {
    params,
    opt,
    fresh: () => {
      attach();
      opt.step();
    },
    zeroFresh: () => {
      opt.zeroGrad();
      attach();
      opt.step();
    },
    cached: () => opt.step(),
  };
}

/** `count` parameters of `size` floats, each in a buffer of its own. */
export function separateLoop(count: number, size: number): Loop {
  return loop(Array.from({ length: count }, (_, i) => new Parameter(fill(new Float32Array(size), 2 * i + 1))));
}

/** The same parameters in one ParameterStore buffer (grads still fresh arrays each step). */
export function storeLoop(count: number, size: number): Loop {
  const store = new ParameterStore(Array.from({ length: count }, () => ({ shape: [size] })));
  fill(store.data, 1);
  return loop([...store.params]);
}

/** A ParameterStore model whose grads are the store's own views: zeroGrad(), attachGrads(), a
 * step, as the default set-to-null loop over a store runs. */
function attachLoop(count: number, size: number): () => void {
  const store = new ParameterStore(Array.from({ length: count }, () => ({ shape: [size] })));
  fill(store.data, 1);
  fill(store.grads, 2);
  store.attachGrads();
  const opt = new Adam(store.params, { lr: 1e-3 });
  opt.step();
  return () => {
    opt.zeroGrad();
    store.attachGrads();
    opt.step();
  };
}

/** PyTorch's side of a loop: a Python child that runs one step per request. */
interface TorchLoop {
  version: string;
  step(mode: 'fresh' | 'zero' | 'cached'): Promise<number>;
  close(): void;
}

/** A Python that imports torch: $SIMD_ADAM_PYTHON, python3 on the PATH, or Debian's. */
function torchPython(): { python: string; version: string } | undefined {
  for (const python of [process.env.SIMD_ADAM_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!python) continue;
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return undefined;
}

let found: ReturnType<typeof torchPython> | null = null;

export async function torchLoop(count: number, size: number): Promise<TorchLoop | undefined> {
  if (found === null) found = torchPython();
  if (!found) return undefined;
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch_loop.py');
  const child: ChildProcessWithoutNullStreams = spawn(found.python, [script, String(count), String(size)]);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`bench/torch_loop.py ended early (${count} × ${size})`);
    return value as string;
  };
  const ready = await next();
  return {
    version: ready.split(' ')[2]!,
    step: async (mode) => {
      child.stdin.write(`${mode}\n`);
      return Number(await next());
    },
    close: () => child.stdin.end(),
  };
}

/** Medians of `a` (ours, synchronous) and `b` (PyTorch's, asynchronous), alternating. */
async function interleaveTorch(a: Timed, b: () => Promise<number>, rounds: number): Promise<{ a: number; b: number }> {
  a();
  await b();
  const as: number[] = [], bs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      as.push(a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(a());
    }
  }
  return { a: median(as), b: median(bs) };
}

/** One measured line of the loops table: ns per step and per parameter. */
export interface LoopRow {
  loop: string;
  caseName: string;
  medianNs: number;
  perParamNs: number;
  rounds: number;
}

export async function loopSuites(quick: boolean): Promise<{ rows: LoopRow[]; targets: Target[]; notes: string[] }> {
  const rows: LoopRow[] = [];
  const targets: Target[] = [];
  const notes: string[] = [];
  const record = (loopName: string, caseName: string, ns: number, params: number, rounds: number) => {
    rows.push({ loop: loopName, caseName, medianNs: ns, perParamNs: ns / params, rounds });
    console.log(`  ${`${loopName}: ${caseName}`.padEnd(70)} ${(ns / 1e3).toFixed(1).padStart(10)} µs/step ${(ns / params).toFixed(1).padStart(9)} ns/param`);
  };
  console.log('training loops (interleaved medians)');

  // Big tensors: the loops against one tensor of the same elements.
  const [bigCount, bigSize] = quick ? [256, 1024] : [4096, 1024];
  const big = storeLoop(bigCount, bigSize);
  const one = separateLoop(1, bigCount * bigSize);
  const oneStep = timeCall(one.cached);
  const r1 = quick ? 9 : 41;
  const bigName = `${bigCount} × ${bigSize} (ParameterStore)`;
  const oneName = `${(bigCount * bigSize) / (1024 * 1024)}M floats`;
  for (const [caseName, fn, bound] of [
    ['fresh grad arrays each step', big.fresh, 1.25],
    ['zeroGrad() + fresh grad arrays', big.zeroFresh, 1.3],
    ['zeroGrad() + attachGrads() (its own grads, one segment)', attachLoop(bigCount, bigSize), undefined],
    ['cached loop (grads unchanged)', big.cached, undefined],
  ] as const) {
    const m = interleave(timeCall(fn), oneStep, r1);
    record(bigName, caseName, m.a, bigCount, r1);
    if (bound !== undefined) targets.push(target(`${bigName}, ${caseName}: ≤ ${bound}× one ${oneName} tensor`, 'loop / one tensor', m, '<=', bound, r1));
    else targets.push({ ...target(`${bigName}, ${caseName} (no target)`, 'loop / one tensor', m, '<=', Infinity, r1), goal: '(reported)' });
  }
  record(`1 tensor × ${oneName}`, 'cached loop', median(Array.from({ length: r1 }, oneStep)), 1, r1);

  // Many small tensors: fresh grads against the cached loop of the same model.
  const [manyCount, manySize] = quick ? [10_000, 16] : [100_000, 16];
  const many = separateLoop(manyCount, manySize);
  const r2 = quick ? 5 : 21;
  const mm = interleave(timeCall(many.fresh), timeCall(many.cached), r2);
  record(`${manyCount} × ${manySize}`, 'fresh grad arrays each step', mm.a, manyCount, r2);
  record(`${manyCount} × ${manySize}`, 'cached loop (grads unchanged)', mm.b, manyCount, r2);
  targets.push(target(`${manyCount} × ${manySize}, fresh grad arrays: per-parameter cost ≤ 8× the cached loop's`, 'fresh / cached', mm, '<=', 8, r2));
  const mz = interleave(timeCall(many.zeroFresh), timeCall(many.cached), r2);
  record(`${manyCount} × ${manySize}`, 'zeroGrad() + fresh grad arrays', mz.a, manyCount, r2);

  // PyTorch on the same small-tensor loop.
  const [smallCount, smallSize] = [1000, 16];
  const small = separateLoop(smallCount, smallSize);
  const r3 = quick ? 15 : 61;
  const torch = await torchLoop(smallCount, smallSize);
  const smallName = `${smallCount} × ${smallSize}`;
  const sm = interleave(timeCall(small.fresh), timeCall(small.cached), 4 * r3);
  record(smallName, 'fresh grad arrays each step', sm.a, smallCount, 4 * r3);
  record(smallName, 'cached loop (grads unchanged)', sm.b, smallCount, 4 * r3);
  if (!torch) {
    notes.push('PyTorch is not installed (no python3 that imports torch; set SIMD_ADAM_PYTHON, or apt-get install python3-torch): its loops were skipped.');
  } else {
    const t = await interleaveTorch(timeCall(small.fresh), () => torch.step('fresh'), r3);
    record(smallName, `PyTorch ${torch.version}, fresh grad tensors each step`, t.b, smallCount, r3);
    targets.push(target(`${smallName}, fresh grad arrays: ≥ 150× PyTorch ${torch.version}'s step on the same loop`, 'PyTorch / simd-adam', { a: t.b, b: t.a }, '>=', 150, r3));
    const z = await interleaveTorch(timeCall(small.zeroFresh), () => torch.step('zero'), r3);
    record(smallName, `PyTorch ${torch.version}, zero_grad() + fresh grad tensors`, z.b, smallCount, r3);
    targets.push({ ...target(`${smallName}, zeroGrad() + fresh grad arrays against PyTorch's zero_grad() loop (no target)`, 'PyTorch / simd-adam', { a: z.b, b: z.a }, '>=', 0, r3), goal: '(reported)' });
    torch.close();
    const torchBig = await torchLoop(bigCount, bigSize);
    if (torchBig) {
      const rb = quick ? 3 : 7;
      const b = await interleaveTorch(timeCall(big.fresh), () => torchBig.step('fresh'), rb);
      record(bigName, `PyTorch ${torchBig.version}, fresh grad tensors each step`, b.b, bigCount, rb);
      torchBig.close();
    }
  }
  return { rows, targets, notes };
}

/** The loops table, in Markdown. */
export function loopTable(rows: readonly LoopRow[]): string {
  const lines = ['| model | loop | median µs/step | ns/parameter | rounds |', '|---|---|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.loop} | ${r.caseName} | ${(r.medianNs / 1e3).toFixed(1)} | ${r.perParamNs.toFixed(1)} | ${r.rounds} |`);
  return lines.join('\n');
}
