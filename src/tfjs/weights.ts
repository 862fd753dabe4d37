/**
 * getWeights()/setWeights() in tf.train.adam's layout: `iter` (int32 scalar), then `<var>/m`
 * for every variable, then `<var>/v`; with amsgrad, `<var>/vhat` (Keras's name) after those.
 * simd-adam counts steps per variable; a variable whose count differs from `iter` (it was
 * skipped by some steps) also gets a `<var>/step` int32 scalar, at the end.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { SimdAdamError } from '../index.js';
import type { SavedState } from './executor.js';
import { tfCore } from './load_core.js';

/** A named tensor, as tfjs's optimizers take and return them (tfjs-core does not export the type). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One variable's state under its variable's name, with the variable's shape. */
export interface NamedState extends SavedState {
  name: string;
  shape: readonly number[];
}

/** New tensors holding copies of the state, in tfjs's order. */
export function encodeWeights(iterations: number, states: readonly NamedState[]): NamedTensor[] {
  const tensor = (values: Float32Array, shape: readonly number[]) => tfCore.tensor(values.slice(), [...shape], 'float32');
  const out: NamedTensor[] = [{ name: 'iter', tensor: tfCore.scalar(iterations, 'int32') }];
  for (const s of states) out.push({ name: `${s.name}/m`, tensor: tensor(s.m, s.shape) });
  for (const s of states) out.push({ name: `${s.name}/v`, tensor: tensor(s.v, s.shape) });
  for (const s of states) if (s.vhat) out.push({ name: `${s.name}/vhat`, tensor: tensor(s.vhat, s.shape) });
  for (const s of states) if (s.step !== iterations) out.push({ name: `${s.name}/step`, tensor: tfCore.scalar(s.step, 'int32') });
  return out;
}

const SUFFIX = /^(.*)\/(m|v|vhat|step)$/;

/** Reads weights from getWeights() (ours or tf.train.adam's), checking everything.
 * @throws SimdAdamError (code ERR_STATE_DICT) naming the weight that is missing, unknown or
 * malformed. */
export async function decodeWeights(weights: unknown, amsgrad: boolean, where: string): Promise<{ iterations: number; states: NamedState[] }> {
  const fail = (message: string) => new SimdAdamError('ERR_STATE_DICT', `${where}: ${message}`);
  if (!Array.isArray(weights)) throw fail(`expected an array of { name, tensor }, got ${typeof weights}`);
  const byName = new Map<string, tf.Tensor>();
  weights.forEach((w: unknown, i) => {
    const { name, tensor } = (w ?? {}) as { name?: unknown; tensor?: unknown };
    if (typeof name !== 'string' || !(tensor instanceof tfCore.Tensor) || tensor.isDisposed) {
      throw fail(`weights[${i}] must be { name: string, tensor: tf.Tensor } with a live tensor`);
    }
    if (byName.has(name)) throw fail(`weight '${name}' appears twice`);
    byName.set(name, tensor);
  });
  const iter = byName.get('iter');
  if (!iter) throw fail("the weights have no 'iter' (the iteration count)");
  const iterations = await count(iter, 'iter', fail);
  const bases: string[] = [];
  for (const name of byName.keys()) {
    if (name === 'iter') continue;
    const match = SUFFIX.exec(name);
    if (!match) throw fail(`weight '${name}' is not iter, <variable>/m, /v, /vhat or /step`);
    if (match[2] === 'm') bases.push(match[1]!);
    else if (!byName.has(`${match[1]}/m`)) throw fail(`weight '${name}' has no '${match[1]}/m'`);
  }
  const states: NamedState[] = [];
  for (const name of bases) {
    const m = byName.get(`${name}/m`)!;
    const moment = async (suffix: string): Promise<Float32Array> => {
      const t = byName.get(`${name}/${suffix}`);
      if (!t) throw fail(`'${name}/m' has no '${name}/${suffix}'${suffix === 'vhat' ? ' (amsgrad is on)' : ''}`);
      if (t.dtype !== 'float32') throw fail(`'${name}/${suffix}' must be float32, got ${t.dtype}`);
      if (!tfCore.util.arraysEqual(t.shape, m.shape)) throw fail(`'${name}/${suffix}' has shape [${t.shape.join(', ')}] but '${name}/m' has [${m.shape.join(', ')}]`);
      return Float32Array.from(await t.data());
    };
    if (!amsgrad && byName.has(`${name}/vhat`)) throw fail(`'${name}/vhat' is amsgrad state, but amsgrad is off`);
    const step = byName.get(`${name}/step`);
    states.push({
      name,
      shape: [...m.shape],
      m: await moment('m'),
      v: await moment('v'),
      ...(amsgrad ? { vhat: await moment('vhat') } : {}),
      step: step ? await count(step, `${name}/step`, fail) : iterations,
    });
  }
  return { iterations, states };
}

async function count(t: tf.Tensor, name: string, fail: (message: string) => Error): Promise<number> {
  const values = await t.data();
  const n = values[0];
  if (t.size !== 1 || typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw fail(`'${name}' must be one non-negative integer`);
  return n;
}
