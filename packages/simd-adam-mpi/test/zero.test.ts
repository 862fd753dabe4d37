/**
 * ZeroRedundancyOptimizer under real MPI (Open MPI or MPICH over loopback TCP): each case runs a
 * rank script from ranks/ with `mpirun -np N` and checks what every rank printed. Skipped, with a
 * note, where there is no mpirun or the binding is not built.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mpiMissing, mpirun, type RankRun } from './support/mpirun.js';

interface Equivalence {
  rank: number;
  size: number;
  identical: boolean;
  frozenUntouched: boolean;
  bytesPerStep: number;
  flatElements: number;
  stateBytes: number;
  refStateBytes: number;
  hookCalls: { pre: number; post: number };
  explained: string[];
}

describe.skipIf(mpiMissing !== null)('ZeroRedundancyOptimizer over MPI', () => {
  const variants = [
    { stateDtype: 'float32', amsgrad: false },
    { stateDtype: 'float32', amsgrad: true },
    { stateDtype: '8bit', amsgrad: false },
    { stateDtype: 'bfloat16', amsgrad: true },
  ];
  for (const np of [1, 2, 3, 4]) {
    for (const { stateDtype, amsgrad } of variants) {
      it(`after 20 steps at N=${np} with ${stateDtype} state${amsgrad ? ' and amsgrad' : ''}, every rank's parameters are bit-identical to one AdamW on the mean gradient`, () => {
        const run = mpirun<Equivalence>(np, 'equivalence', { AMSGRAD: amsgrad ? '1' : '0', STATE_DTYPE: stateDtype });
        expect(run.status, run.stderr).toBe(0);
        expect(run.lines.map((l) => l.rank)).toEqual([...Array(np).keys()]);
        for (const line of run.lines) {
          expect(line.identical, `rank ${line.rank}`).toBe(true);
          expect(line.frozenUntouched).toBe(true);
        }
        // Hooks ran once per step on every rank; explain() reads the grads of the last step, in
        // which 'sometimes' had none.
        expect(run.lines.every((l) => l.hookCalls.pre === 20 && l.hookCalls.post === 20)).toBe(true);
        expect(run.lines[0]!.explained).toEqual(['w:gradient', 'b:gradient', 'frozen:frozen', 'empty:zero-grad-no-op', 'big:gradient', 'sometimes:no-grad']);
        // Each rank holds its shard's state: together exactly the single optimizer's.
        expect(run.lines.reduce((sum, l) => sum + l.stateBytes, 0)).toBe(run.lines[0]!.refStateBytes);
      });
    }
  }

  it('with maxGradNorm at N=3, the run stays within 1e-5 of one AdamW clipped by clipGradNorm (norms summed in another order)', () => {
    const run = mpirun<Equivalence & { maxRelDiff: number; gradNorm: number }>(3, 'equivalence', { CLIP: '0.5' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.lines).toHaveLength(3);
    for (const line of run.lines) {
      expect(line.maxRelDiff).toBeLessThan(1e-5);
      expect(line.gradNorm).toBeGreaterThan(0.5); // the clip was active
      expect(line.gradNorm).toBe(run.lines[0]!.gradNorm);
    }
  });

  it('a grad set on some ranks and null on others, a lone frozen parameter, a bad grad, a lone lr change or a lone nonFinite mode fails on every rank within seconds, changing nothing', () => {
    for (const np of [2, 3]) {
      const run = mpirun<Record<string, unknown> & { rank: number }>(np, 'mismatch', {}, 60_000);
      expect(run.status, run.stderr).toBe(0);
      expect(run.lines).toHaveLength(np);
      for (const line of run.lines) {
        expect(line.nullGrad).toBe('ERR_RANK_MISMATCH');
        expect(line.nullGradMessage).toMatch(/'big'/);
        expect(line.frozen).toBe('ERR_RANK_MISMATCH');
        expect(line.badGrad).toBe(line.rank === 0 ? 'ERR_GRAD_LENGTH' : 'ERR_RANK_MISMATCH');
        expect(line.lr).toBe('ERR_RANK_MISMATCH');
        expect(line.lrMessage).toMatch(/paramGroups\[0\]\.lr/);
        expect(line.badLr).toBe(line.rank === 0 ? 'ERR_OPTION' : 'ERR_RANK_MISMATCH');
        expect(line.nonFinite).toBe('ERR_RANK_MISMATCH');
        for (const key of ['nullGrad', 'frozen', 'badGrad', 'lr', 'badLr', 'nonFinite']) expect(line[`${key}Unchanged`], key).toBe(true);
        expect(line.seconds as number).toBeLessThan(5);
        expect(line.recovered).toBe(true);
        expect(line.busy).toBe('ERR_BUSY');
      }
    }
  });

  for (const mode of ['skip', 'throw'] as const) {
    it(`nonFinite '${mode}': a NaN or ±Inf on one rank, or a float32 sum of finite grads that overflows, gives the same decision on every rank, nothing changed, and the run stays bit-identical to one AdamW with '${mode}'`, () => {
      for (const [np, which] of [[1, 'nan'], [2, 'nan'], [2, 'inf'], [2, 'overflow'], [3, 'nan'], [3, 'inf'], [3, 'overflow']] as const) {
        const run = mpirun<{ rank: number; outcomes: string[]; messages: string[]; badStepUnchanged: boolean; skipped: number; refSkipped: number; identical: boolean; seconds: number }>(
          np,
          'non_finite',
          { MODE: mode, CASE: which, STATE_DTYPE: '8bit' },
          60_000,
        );
        const at = `N=${np}, ${which}`;
        expect(run.status, `${at}: ${run.stderr}`).toBe(0);
        expect(run.lines, at).toHaveLength(np);
        for (const line of run.lines) {
          expect(line.outcomes, at).toEqual(['stepped', 'stepped', 'stepped', mode === 'skip' ? 'skipped' : 'ERR_NON_FINITE', 'stepped', 'stepped', 'stepped', 'stepped']);
          expect(line.badStepUnchanged, at).toBe(true);
          expect(line.skipped, at).toBe(line.refSkipped);
          expect(line.identical, `${at}, rank ${line.rank}`).toBe(true);
          // The same message everywhere, naming the parameter and element of the mean gradient.
          expect(line.messages, at).toEqual(run.lines[0]!.messages);
          expect(line.seconds, at).toBeLessThan(10);
        }
        if (mode === 'throw') expect(run.lines[0]!.messages[0], at).toMatch({ nan: /'big'\): the mean grad\[5\] over the ranks is NaN/, inf: /'w'\): the mean grad\[1000\] over the ranks is -Infinity/, overflow: /'big'\): the mean grad\[7\] over the ranks is Infinity/ }[which]);
      }
    }, 240_000);
  }

  for (const [stateDtype, formats] of [
    ['float32', ['float32']],
    ['8bit', ['8bit', 'float32']],
    ['bfloat16', ['bfloat16']],
  ] as const) {
    describe(`consolidated checkpoints with ${stateDtype} state`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'simd-adam-mpi-'));
      const file = join(dir, 'zero.safetensors');
      const env = { FILE: file, SAVED_SIZE: '4', STATE_DTYPE: stateDtype };
      let saved: RankRun<Record<string, unknown> & { rank: number }>;
      // The save run writes the file each resume test starts from.
      beforeAll(() => void (saved = mpirun(4, 'checkpoint', { ...env, MODE: 'save' })), 180_000);
      afterAll(() => rmSync(dir, { recursive: true, force: true }));

      it(`consolidateStateDict() at N=4 gives rank 0 the single optimizer's state dict, in its ${stateDtype} layout, bit for bit, and null elsewhere`, () => {
        const run = saved;
        expect(run.status, run.stderr).toBe(0);
        expect(run.lines.map((l) => l.isNull)).toEqual([false, true, true, true]);
        expect(run.lines[0]).toMatchObject({ sameIds: true, sameState: true, sameGroups: true, sameParams: true });
        // 8 bits: 'w' and 'big' in 8 bits, the small parameters in float32 (min8bitSize 300).
        expect(run.lines[0]!.formats).toEqual(formats);
      });

      for (const np of [2, 1]) {
        it(`the N=4 ${stateDtype} checkpoint resumed at N=${np} continues bit-identically to an uninterrupted single-process run`, () => {
          const run = mpirun<{ rank: number; identical: boolean; lr: number; refLr: number }>(np, 'checkpoint', { ...env, MODE: 'resume' });
          expect(run.status, run.stderr).toBe(0);
          expect(run.lines).toHaveLength(np);
          for (const line of run.lines) {
            expect(line.identical, `rank ${line.rank}`).toBe(true);
            expect(line.lr).toBe(line.refLr);
          }
        });
      }
    });
  }

  describe('per-rank shard files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'simd-adam-mpi-shards-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    type Saved = { rank: number; meta: { rank: number; world_size: number; shard: [number, number]; total: number }; stateKeys: string[]; stateDtypes: string[]; paramElements: number };

    for (const [stateDtype, np] of [['float32', 3], ['8bit', 2], ['bfloat16', 2]] as const) {
      it(`with ${stateDtype} state at N=${np}, each rank writes its shard and its part of the parameters, and a new run of N=${np} loads them and continues bit-identically`, () => {
        const env = { DIR: join(dir, stateDtype), STATE_DTYPE: stateDtype };
        mkdirSync(env.DIR);
        const saved = mpirun<Saved>(np, 'shard_files', { ...env, MODE: 'save' });
        expect(saved.status, saved.stderr).toBe(0);
        expect(saved.lines).toHaveLength(np);
        // The metadata names the rank, the world size and the shard; the shards tile the buffer.
        let next = 0;
        for (const line of saved.lines) {
          expect(line.meta.rank).toBe(line.rank);
          expect(line.meta.world_size).toBe(np);
          expect(line.meta.shard[0]).toBe(next);
          next = line.meta.shard[1];
          expect(line.paramElements).toBe(line.meta.shard[1] - line.meta.shard[0]);
        }
        expect(next).toBe(saved.lines[0]!.meta.total);
        expect(saved.lines[0]!.stateKeys).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
        if (stateDtype !== 'float32') expect(saved.lines.flatMap((l) => l.stateDtypes)).toContain(stateDtype);
        const resumed = mpirun<{ rank: number; identical: boolean; lr: number; refLr: number; metadata: unknown }>(np, 'shard_files', { ...env, MODE: 'resume' });
        expect(resumed.status, resumed.stderr).toBe(0);
        expect(resumed.lines).toHaveLength(np);
        for (const line of resumed.lines) {
          expect(line.identical, `rank ${line.rank}`).toBe(true);
          expect(line.lr).toBe(line.refLr);
          expect(line.metadata).toEqual({ epoch: 3, rank: line.rank });
        }
      }, 120_000);
    }

    it('a shard file of another rank, world size, layout or save is refused with a coded error on every rank, nothing changed on any', () => {
      const env = { DIR: join(dir, 'refuse'), STATE_DTYPE: '8bit' };
      mkdirSync(env.DIR);
      // Two saves at N=2, 'a' and 'b'.
      for (const TAG of ['a', 'b']) expect(mpirun(2, 'shard_files', { ...env, MODE: 'save', TAG }).status).toBe(0);
      const refuse = (np: number, which: string) => {
        const run = mpirun<{ rank: number; code: string; unchanged: boolean }>(np, 'shard_files', { ...env, MODE: 'refuse', CASE: which }, 60_000);
        expect(run.status, run.stderr).toBe(0);
        expect(run.lines).toHaveLength(np);
        for (const line of run.lines) expect(line.unchanged, `${which}, rank ${line.rank}`).toBe(true);
        return run.lines;
      };
      for (const line of refuse(2, 'swap')) expect(line.code).toMatch(/^ERR_CHECKPOINT: .*was written by rank \d of a world of 2, but this is rank \d of 2/);
      const lone = refuse(2, 'lone');
      expect(lone[0]!.code).toMatch(/^ERR_CHECKPOINT: .*written by rank 1/);
      expect(lone[1]!.code).toMatch(/^ERR_RANK_MISMATCH: .*another rank could not load its shard file/);
      for (const line of refuse(3, 'size')) expect(line.code).toMatch(line.rank === 2 ? /^ERR_CHECKPOINT: .*no such file/ : /^ERR_CHECKPOINT: .*of a world of 2, but this is rank \d of 3/);
      for (const line of refuse(2, 'layout')) expect(line.code).toMatch(/^ERR_CHECKPOINT: .*another model layout/);
      for (const line of refuse(2, 'mixed')) expect(line.code).toMatch(/^ERR_CHECKPOINT: .*different writeShard\(\) calls/);
    }, 200_000);
  });

  for (const [np, ownGrads] of [[1, false], [2, false], [2, true]] as const) {
    it(`during 16M-parameter sharded steps at N=${np}${ownGrads ? ', with grads in arrays of their own,' : ''} the event loop serves a 1 ms timer every ~1 ms; a step sends (4 + 4)·Ψ·(N − 1)/N bytes and keeps 1/N of the state`, () => {
      const run = mpirun<Record<string, number> & { rank: number }>(np, 'event_loop', { STEPS: '5', OWN_GRADS: ownGrads ? '1' : '0' }, 240_000);
      expect(run.status, run.stderr).toBe(0);
      const psi = 16 * 1024 * 1024;
      for (const line of run.lines) {
        console.log(`N=${np}${ownGrads ? ' own grads' : ''} rank ${line.rank}: ${JSON.stringify(line)}`);
        // What is asserted: the median gap between 1 ms timer callbacks during a step, and the mean
        // gap (step time / callbacks), both under 10 ms: a step that ran its copies, reductions or
        // kernel on the loop would leave a few callbacks and long gaps. The p95 and the longest
        // gap are reported, not asserted: on this shared 2-core machine, where the ranks' worker
        // threads and other jobs compete for the cores, the scheduler alone leaves gaps of 10-40 ms
        // (idleMaxGapMs, the same timer over an idle wait as long as a step, shows them too).
        expect(line.medianGapMs).toBeLessThan(10);
        expect(line.medianStepMs! / line.callbacksPerStep!).toBeLessThan(10);
        const expected = (8 * psi * (np - 1)) / np;
        expect(Math.abs(line.bulkBytesPerStep! - expected)).toBeLessThanOrEqual(0.01 * expected);
        // Within one 256-element block of total/N (two state arrays of float32).
        expect(Math.abs(line.stateBytes! - (8 * psi) / np)).toBeLessThanOrEqual(8 * 256);
      }
    }, 300_000);
  }

  it('the data-parallel MNIST example trains at N=2: the loss falls below ln 10, and every rank ends with the same parameters', () => {
    const run = mpirun(2, 'examples/distributed.ts', { SIMD_ADAM_DEMO_QUICK: '1' }, 180_000);
    expect(run.status, run.stderr).toBe(0);
    const loss = Number(/mean loss ([0-9.]+)/.exec(run.stdout)?.[1]);
    expect(loss).toBeLessThan(Math.log(10));
    expect(run.stdout).toMatch(/test accuracy [0-9.]+%, 0\.44 MB sent per rank per step/);
    expect(run.stdout).toMatch(/state on this rank 0\.44 MB \(one AdamW would hold 0\.88 MB\)/);
  }, 200_000);
});
