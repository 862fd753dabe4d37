/** Applies a conformance case to our optimizer, step by step, as docs/numerics.md describes:
 * set_lr, then zero_moments, then grads, then step(), then compare. */
import { Adam, AdamW, Parameter, type AdamState } from '../../src/index.js';
import { firstBitDifference, firstMismatch } from './compare.js';
import type { ConformanceCase } from './fixtures.js';
import { f32State } from './float32_state.js';

/** A recorded param group (PyTorch's keys) as a param group spec over `params`. */
export function groupSpec(g: ConformanceCase['param_groups'][number], params: readonly Parameter[]) {
  return {
    params: g.params.map((i) => params[i]!),
    lr: g.lr,
    betas: g.betas,
    eps: g.eps,
    weightDecay: g.weight_decay,
    amsgrad: g.amsgrad,
    maximize: g.maximize,
  };
}

export function buildOptimizer(c: ConformanceCase, init: number[][]): { opt: Adam; params: Parameter[] } {
  const params = c.params_init.map(
    (t, i) => new Parameter(Float32Array.from(init[i]!), { name: `p${i}`, shape: t.shape }),
  );
  const groups = c.param_groups.map((g) => groupSpec(g, params));
  const opt = c.optimizer === 'AdamW' ? new AdamW(groups) : new Adam(groups);
  return { opt, params };
}

/** Runs steps [from, end) of the case; returns every violation found (empty when conformant). */
export function runSteps(c: ConformanceCase, opt: Adam, params: Parameter[], from = 0): string[] {
  const problems: string[] = [];
  for (let s = from; s < c.steps.length; s++) {
    const step = c.steps[s]!;
    for (const [group, lr] of Object.entries(step.set_lr ?? {})) opt.paramGroups[Number(group)]!.lr = lr;
    if (step.zero_moments) {
      for (const stored of opt.state.values()) {
        const state = f32State(stored);
        state.expAvg.fill(0);
        state.expAvgSq.fill(0);
        state.maxExpAvgSq?.fill(0);
      }
    }
    const before = params.map((p) => p.data.slice());
    params.forEach((p, i) => {
      const g = step.grads[i];
      p.grad = g === null || g === undefined ? null : Float32Array.from(g);
    });
    opt.step();
    const at = `${c.name} step ${s}`;
    params.forEach((p, i) => {
      if (step.grads[i] !== null) return;
      const moved = firstBitDifference(p.data, before[i]!);
      if (moved) problems.push(`${at}: param ${i} had grad null but moved: ${moved}`);
    });
    if (!step.expected) continue;
    step.expected.params.forEach((ref, i) => {
      const bad = firstMismatch(params[i]!.data, ref);
      if (bad) problems.push(`${at}: param ${i} ${bad}`);
    });
    step.expected.state.forEach((ref, i) => {
      const stored: AdamState | undefined = opt.state.get(params[i]!);
      const ours = stored && f32State(stored);
      if (ref === null) {
        if (ours) problems.push(`${at}: param ${i} has state but PyTorch had none`);
        return;
      }
      if (!ours) return void problems.push(`${at}: param ${i} has no state`);
      if (ours.step !== ref.step) problems.push(`${at}: param ${i} step ${ours.step}, expected ${ref.step}`);
      const pairs: Array<[string, Float32Array | undefined, number[] | undefined]> = [
        ['exp_avg', ours.expAvg, ref.exp_avg],
        ['exp_avg_sq', ours.expAvgSq, ref.exp_avg_sq],
        ['max_exp_avg_sq', ours.maxExpAvgSq, ref.max_exp_avg_sq],
      ];
      for (const [key, mine, theirs] of pairs) {
        if ((mine === undefined) !== (theirs === undefined)) {
          problems.push(`${at}: param ${i} ${key} present here: ${mine !== undefined}, in PyTorch: ${theirs !== undefined}`);
        } else if (mine && theirs) {
          const bad = firstMismatch(mine, theirs);
          if (bad) problems.push(`${at}: param ${i} ${key} ${bad}`);
        }
      }
    });
  }
  return problems;
}
