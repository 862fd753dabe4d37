/**
 * `npm run bench`: ns/element and GB/s of simd-adam per backend and thread count, against a
 * plain JS loop, tfjs (cpu, wasm) and the memory roofline, on single tensors of 4K-16M floats
 * and on many tensors in separate buffers and in one buffer. Then the issue's targets, each as
 * a ratio of interleaved medians, and simd-adam/tfjs against tf.train.adam (bench/tfjs.ts).
 * Writes bench/results/latest.json, latest.svg, latest.html (self-contained) and latest.md,
 * over the previous run's: git keeps the history.
 *
 * Then the training loops (bench/loops.ts): fresh grad arrays every step, zeroGrad(), attachGrads(),
 * beside the cached loop and PyTorch where it is installed.
 *
 * `npm run bench -- --quick`: smaller sizes and fewer samples, to check that it all runs; writes
 * quick.* instead (ignored by git).
 * `npm run bench -- --loops`: the training loops only; writes loops.json and loops.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import b from 'benny';

import { availableBackends, backend, numThreads, setBackend, setNumThreads, type BackendName } from '../src/index.js';
import { htmlPage, svgChart } from './chart.js';
import { layoutPlan, separate, stored, type Model } from './models.js';
import { plainJsStep, tfjsStep } from './peers.js';
import { tfjsTargets } from './tfjs.js';
import { htmlTable, markdownTable, type ResultRow } from './report.js';
import { median, probe, probeArrays, repsFor } from './roofline.js';
import { probes } from './probe_addon.js';
import { interleave, target, timeCall, timeProbe, timeProbePlan, type Target } from './targets.js';
import { loopSuites, loopTable } from './loops.js';
import { f32State } from '../test/support/float32_state.js';

const quick = process.argv.includes('--quick');
const loopsOnly = process.argv.includes('--loops');
const BYTES = 28;
const threads = numThreads();
const best = backend();
const natives = availableBackends().filter((n) => n !== 'js');
const rows: ResultRow[] = [];
const loadBefore = loadavg();

const K = 1024, M = K * K;
const sizes = quick ? [4 * K, 64 * K, M] : [4 * K, 64 * K, M, 16 * M];
const label = (n: number) => (n % M === 0 ? `${n / M}M` : n % K === 0 && n < M ? `${n / K}K` : `${n / 1e6}M`);

/** The roofline (traffic probe) per (elements, threads), measured once. */
const rooflines = new Map<string, number>();
function roofline(n: number, t: number): number {
  const key = `${n}/${t}`;
  if (!rooflines.has(key)) {
    setNumThreads(t);
    rooflines.set(key, probe('traffic', probeArrays(n), repsFor(n), t > 1));
    setNumThreads(threads);
  }
  return rooflines.get(key)!;
}

function row(workload: string, elements: number, name: string, kind: ResultRow['kind'], t: number, medianNs: number, samples: number, source: ResultRow['source'], bytes = BYTES): ResultRow {
  const r: ResultRow = {
    workload, elements, name, kind, threads: t, medianNs, samples, source,
    nsPerElement: medianNs / elements,
    gbPerS: (bytes * elements) / medianNs,
    ofRoofline: roofline(elements, t) / medianNs,
  };
  rows.push(r);
  return r;
}

interface Case {
  name: string;
  kind: ResultRow['kind'];
  threads: number;
  /** Setup, returning the function benny times. */
  setup: () => () => void;
}

/** Benny runs every case's setup when the suite is built, before timing any: a setup that
 * selects a backend or a thread count would leak into the other cases. So each case is a suite
 * of its own, set up just before it is timed; the medians become rows. */
async function suite(workload: string, elements: number, cases: Case[]): Promise<void> {
  const heavy = elements >= 4 * M;
  const options = quick ? { minSamples: 3, maxTime: 0.2 } : { minSamples: heavy ? 7 : 15, maxTime: heavy ? 1.5 : 0.8 };
  console.log(workload);
  for (const c of cases) {
    const summary = await b.suite(
      `${workload}: ${c.name}`,
      b.add(`${c.name}, ${c.threads} thread${c.threads > 1 ? 's' : ''}`, c.setup, options),
      b.cycle((result) => {
        const ns = (result.details.median * 1e9) / elements;
        return `  ${result.name.padEnd(42)} ${ns.toPrecision(3).padStart(8)} ns/element (median of ${result.samples})`;
      }),
    );
    const r = summary.results[0]!;
    row(workload, elements, c.name, c.kind, c.threads, r.details.median * 1e9, r.samples, 'benny');
    setNumThreads(threads);
    setBackend(best);
  }
}

function stepCase(name: string, model: Model, be: BackendName, t: number): Case {
  return {
    name, kind: 'simd-adam', threads: t,
    setup: () => {
      setBackend(be);
      setNumThreads(t);
      return () => model.opt.step();
    },
  };
}

function probeRows(workload: string, n: number): void {
  const arrays = probeArrays(n);
  const reps = repsFor(n);
  row(workload, n, 'bare kernel (no call overhead)', 'probe', 1, probe('adam', arrays, reps, false), reps, 'native timer');
  for (const t of new Set([threads, 1])) row(workload, n, 'memory roofline: 28 B/element, no math', 'probe', t, roofline(n, t), reps, 'native timer');
  row(workload, n, 'STREAM triad (12 B/element)', 'probe', threads, probe('triad', arrays, reps, threads > 1), reps, 'native timer', 12);
}

/** The traffic probe and the bare kernel over the model's own buffers, one segment per tensor,
 * with no JavaScript around them: what this memory layout allows, whatever the library does. */
function layoutRows(workload: string, model: Model): void {
  const { buffers, table } = layoutPlan(model);
  const reps = Math.max(7, repsFor(model.elements) >> 1);
  for (const [kind, name] of [['traffic', 'memory roofline over these buffers'], ['adam', 'bare kernel over these buffers']] as const) {
    probes().probePlan(kind, buffers, table, 2, threads > 1);
    row(workload, model.elements, name, 'probe', threads, median(probes().probePlan(kind, buffers, table, reps, threads > 1)), reps, 'native timer');
  }
}

const singles = new Map<number, Model>();
async function singleTensorSuites(): Promise<void> {
  for (const n of sizes) {
    const workload = `1 tensor × ${label(n)} floats`;
    const model = separate(1, n);
    singles.set(n, model);
    const cases: Case[] = [stepCase(`simd-adam ${best}`, model, best, threads)];
    if (threads > 1) cases.push(stepCase(`simd-adam ${best}`, model, best, 1));
    for (const be of natives.filter((x) => x !== best)) cases.push(stepCase(`simd-adam ${be}`, model, be, threads));
    if (n <= M) cases.push(stepCase('simd-adam js backend', model, 'js', 1));
    const plain = plainJsStep(model.params);
    cases.push({ name: 'plain JS loop', kind: 'peer', threads: 1, setup: () => plain });
    await suite(workload, n, cases);
    probeRows(workload, n);
  }
}

async function tfjsSuites(): Promise<void> {
  for (const be of ['wasm', 'cpu'] as const) {
    for (const n of sizes.filter((s) => be === 'wasm' || s <= M)) {
      const workload = `1 tensor × ${label(n)} floats`;
      const tf = await tfjsStep(be, singles.get(n)!.params);
      await suite(workload, n, [{ name: `tfjs ${be} backend`, kind: 'peer', threads: 1, setup: () => tf.step }]);
      tf.dispose();
    }
  }
}

/** tfjs over many tensors, one variable each. Its per-tensor cost makes a step at 100000 tensors
 * take seconds (about 15 s on the wasm backend here), too slow for benny's sampling: such steps
 * are timed directly, a few times, after one warm-up step. */
async function tfjsManyRows(workload: string, model: Model): Promise<void> {
  for (const be of ['wasm', 'cpu'] as const) {
    const tf = await tfjsStep(be, model.params);
    const name = `tfjs ${be} backend`;
    if (model.params.length < 10000) {
      await suite(workload, model.elements, [{ name, kind: 'peer', threads: 1, setup: () => tf.step }]);
    } else {
      tf.step();
      const times = Array.from({ length: quick ? 1 : 3 }, timeCall(tf.step));
      const r = row(workload, model.elements, name, 'peer', 1, median(times), times.length, 'hrtime');
      console.log(`  ${`${name}, 1 thread`.padEnd(42)} ${r.nsPerElement.toPrecision(3).padStart(8)} ns/element (median of ${times.length}, timed directly)`);
    }
    tf.dispose();
  }
}

const many = new Map<string, Model>();
async function manyTensorSuites(): Promise<void> {
  const shapes: Array<[number, number]> = quick ? [[256, 1024], [10000, 16]] : [[4096, 1024], [100000, 16]];
  for (const [count, size] of shapes) {
    const n = count * size;
    for (const [how, make] of [['separate buffers', separate], ['one buffer (ParameterStore)', stored]] as const) {
      const workload = `${count} tensors × ${size} floats, ${how}`;
      const model = make(count, size);
      many.set(`${count}x${size}/${how}`, model);
      const cases = [stepCase(`simd-adam ${best}`, model, best, threads)];
      if (threads > 1) cases.push(stepCase(`simd-adam ${best}`, model, best, 1));
      if (how === 'separate buffers') {
        const plain = plainJsStep(model.params);
        cases.push({ name: 'plain JS loop', kind: 'peer', threads: 1, setup: () => plain });
      }
      await suite(workload, n, cases);
      if (how === 'separate buffers') await tfjsManyRows(workload, model);
      layoutRows(workload, model);
    }
    const workload = `1 tensor × ${label(n)} floats (same elements, for comparison)`;
    const model = separate(1, n);
    many.set(`1x${n}`, model);
    await suite(workload, n, [stepCase(`simd-adam ${best}`, model, best, threads)]);
    probeRows(workload, n);
  }
}

async function targets(): Promise<Target[]> {
  setBackend(best);
  setNumThreads(threads);
  const out: Target[] = [];
  const big = quick ? M : 16 * M;
  const bigModel = singles.get(big)!;
  const step = timeCall(() => bigModel.opt.step());
  const rounds = quick ? 7 : 41;
  out.push(target(`${label(big)}: ≥ 95% of the traffic roofline at ${threads} threads`, 'roofline probe / step', interleave(timeProbe('traffic', probeArrays(big), threads > 1), step, rounds), '>=', 0.95, rounds));
  const small = singles.get(64 * K)!;
  const s = f32State(small.opt.state.get(small.params[0]!));
  const arrays = { param: small.params[0]!.data, grad: small.params[0]!.grad!, expAvg: s.expAvg, expAvgSq: s.expAvgSq };
  out.push(target('64K: within 1.15× of the bare kernel, call overhead included', 'step / bare kernel', interleave(timeCall(() => small.opt.step()), timeProbe('adam', arrays, false), 2001), '<=', 1.15, 2001));
  const [count, size] = quick ? [256, 1024] : [4096, 1024];
  const one = many.get(`1x${count * size}`)!;
  const sep = many.get(`${count}x${size}/separate buffers`)!;
  const st = many.get(`${count}x${size}/one buffer (ParameterStore)`)!;
  const r2 = quick ? 15 : 61;
  out.push(target(`${count} × ${size} in separate buffers: ≤ 1.3× one ${label(count * size)} tensor`, 'separate / one tensor', interleave(timeCall(() => sep.opt.step()), timeCall(() => one.opt.step()), r2), '<=', 1.3, r2));
  // Not a target: what the memory system allows for that layout. The traffic probe over the
  // separate buffers against the one-tensor step; above 1.3, no step over them can meet the target.
  out.push(target(`bound for the line above: the traffic probe over those ${count} buffers, no JavaScript`, 'probe / one tensor', interleave(timeProbePlan('traffic', layoutPlan(sep), threads > 1), timeCall(() => one.opt.step()), r2), '<=', 1.3, r2));
  out.push(target(`${count} × ${size} in one buffer: ≤ 1.05× one ${label(count * size)} tensor`, 'one buffer / one tensor', interleave(timeCall(() => st.opt.step()), timeCall(() => one.opt.step()), r2), '<=', 1.05, r2));
  const plain = plainJsStep(bigModel.params);
  const r3 = quick ? 3 : 9;
  out.push(target(`${label(big)}: ≥ 7× the plain JS loop`, 'plain JS / step', interleave(timeCall(plain), step, r3), '>=', 7, r3));
  const tf = await tfjsStep('wasm', bigModel.params);
  out.push(target(`${label(big)}: ≥ 18× tfjs-wasm`, 'tfjs wasm / step', interleave(timeCall(tf.step), step, r3), '>=', 18, r3));
  tf.dispose();
  return out;
}

async function main(): Promise<void> {
  console.log(`simd-adam bench: backend ${best}, ${threads} threads, ${cpus()[0]?.model ?? 'unknown CPU'}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}${quick ? ' (quick)' : ''}`);
  if (!loopsOnly) {
    await singleTensorSuites();
    await manyTensorSuites();
    await tfjsSuites();
  }
  const goals = loopsOnly ? [] : await targets();
  if (!loopsOnly) goals.push(...(await tfjsTargets(quick)));
  const loops = await loopSuites(quick);
  goals.push(...loops.targets);
  const loadAfter = loadavg();
  const order = [...new Set(rows.map((r) => r.workload))];
  rows.sort((x, y) => order.indexOf(x.workload) - order.indexOf(y.workload));
  const title = `simd-adam ${best}, ${threads} threads, ${new Date().toISOString().slice(0, 16)}Z`;
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, backend: best, threads, loadBefore, loadAfter, quick };
  const json = JSON.stringify({ date: new Date().toISOString(), machine, rows, loops: loops.rows, targets: goals, notes: loops.notes }, null, 2);
  const svg = loopsOnly ? '' : svgChart(rows, title);
  const holds = (g: Target) => (g.goal === '(reported)' ? '—' : g.holds ? 'yes' : 'no');
  const targetLines = ['| target | measured (interleaved medians) | holds |', '|---|---:|:---:|', ...goals.map((g) => `| ${g.name} | ${g.ratio} = ${g.value.toFixed(3)} | ${holds(g)} |`)];
  const tables = [...(loopsOnly ? [] : [markdownTable(rows)]), `Training loops:\n\n${loopTable(loops.rows)}`, targetLines.join('\n'), ...loops.notes.map((n) => `Note: ${n}`)];
  const md = `${title}; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}\n\n${tables.join('\n\n')}\n`;
  const prefix = quick ? 'quick' : loopsOnly ? 'loops' : 'latest';
  writeFileSync(join(dir, `${prefix}.json`), json);
  if (!loopsOnly) {
    writeFileSync(join(dir, `${prefix}.svg`), svg);
    writeFileSync(join(dir, `${prefix}.html`), htmlPage(svg, htmlTable(rows), title));
  }
  writeFileSync(join(dir, `${prefix}.md`), md);
  console.log(`\n${md}\nWritten to ${dir}/${prefix}.{json,md${loopsOnly ? '' : ',svg,html'}}`);
}

await main();
