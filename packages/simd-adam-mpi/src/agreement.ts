/**
 * Before a sharded step touches anything, the ranks agree in one small all-reduce: which
 * parameters have a grad (a flag each), the hyperparameters and the layout (each value and its
 * negation, so that the maximum over ranks gives both the largest and the smallest), and whether any rank failed its own checks. A
 * disagreement is thrown on every rank, so no rank waits in a collective the others skip.
 */
import { SimdAdamError, type AdamParamGroup } from 'simd-adam';
import type { Communicator } from './communicator.js';

/** What one rank contributes. `flags[i]` is 1 when parameter i (in group order) has a grad and
 * requiresGrad. `values` are numbers every rank must hold equal (layout, hyperparameters). */
export interface Vote {
  flags: Uint8Array;
  values: readonly number[];
  /** What each value is, for messages: `paramGroups[0].lr`. */
  valueNames: readonly string[];
  /** This rank's own validation error, if any: it is thrown here, the others get a mismatch. */
  localError: unknown;
}

/** Runs the all-reduce and throws on disagreement (code ERR_RANK_MISMATCH), the same on all
 * ranks but for the rank whose own check failed, which throws its own error. */
export async function agree(comm: Communicator, vote: Vote, describeParam: (i: number) => string, where: string): Promise<void> {
  // One MPI_MAX over each number and its negation gives the largest and smallest value on any
  // rank: exact, and the same result on every rank, so every rank decides alike.
  const p = vote.flags.length, v = vote.values.length;
  const buf = new Float64Array(1 + 2 * p + 2 * v);
  buf[0] = vote.localError === undefined ? 0 : 1;
  for (let i = 0; i < p; i++) (buf[1 + i] = vote.flags[i]!), (buf[1 + p + i] = -vote.flags[i]!);
  for (let j = 0; j < v; j++) {
    const x = Number.isNaN(vote.values[j]!) ? NAN_STAND_IN : vote.values[j]!;
    buf[1 + 2 * p + j] = x;
    buf[1 + 2 * p + v + j] = -x;
  }
  await comm.allReduce(buf, 'max');
  if (vote.localError !== undefined) throw vote.localError;
  if (buf[0]! > 0) {
    throw new SimdAdamError('ERR_RANK_MISMATCH', `${where}: another rank refused this step (see its error); nothing was changed`);
  }
  const split: number[] = [];
  for (let i = 0; i < p; i++) if (buf[1 + i] !== -buf[1 + p + i]!) split.push(i);
  if (split.length > 0) {
    const listed = split.slice(0, 3).map((i) => `${describeParam(i)} (grad ${vote.flags[i] ? 'set' : 'null'} on this rank)`);
    throw new SimdAdamError(
      'ERR_RANK_MISMATCH',
      `${where}: the ranks disagree on which parameters have a grad: ${listed.join(', ')}${split.length > 3 ? ` and ${split.length - 3} more` : ''}; ` +
        'every rank must set the same grads to null and freeze the same parameters. Nothing was changed',
    );
  }
  for (let j = 0; j < v; j++) {
    if (buf[1 + 2 * p + j] !== -buf[1 + 2 * p + v + j]!) {
      throw new SimdAdamError(
        'ERR_RANK_MISMATCH',
        `${where}: the ranks disagree on ${vote.valueNames[j]}: ${vote.values[j]} on this rank, ` +
          `from ${-buf[1 + 2 * p + v + j]!} to ${buf[1 + 2 * p + j]} over ranks; every rank must build the same model and optimizer ` +
          'and change hyperparameters alike. Nothing was changed',
      );
    }
  }
}

/** NaN has no order under MPI_MAX; every NaN votes as this value instead. */
const NAN_STAND_IN = 1.7976931348623157e308;

/** Every group's hyperparameters `keys` as numbers, with their names for messages. */
export function groupValues(groups: readonly AdamParamGroup[], keys: readonly string[]): { values: number[]; valueNames: string[] } {
  const values: number[] = [];
  const valueNames: string[] = [];
  groups.forEach((group, gi) => {
    for (const key of keys) {
      const numbers = numbersOf(group[key as keyof AdamParamGroup]);
      values.push(...numbers);
      valueNames.push(...numbers.map((_, i) => `paramGroups[${gi}].${key}${numbers.length > 1 ? `[${i}]` : ''}`));
    }
  });
  return { values, valueNames };
}

/** A hyperparameter as numbers every rank must agree on (booleans as 0/1, arrays flattened). */
function numbersOf(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (typeof value === 'boolean') return [value ? 1 : 0];
  if (Array.isArray(value)) return value.flatMap(numbersOf);
  if (typeof value === 'string') return [[...value].reduce((h, c) => (h * 31 + c.codePointAt(0)!) % 2 ** 48, 7)];
  return [value === undefined ? -1 : NaN];
}
