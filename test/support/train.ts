/** A deterministic training run over several groups, returning every parameter's final bits. */
import { Adam, AdamW, Parameter } from '../../src/index.js';
import { fillValues, rng } from './random.js';

export function trainDeterministic(seed: number, steps: number): number[][] {
  const next = rng(seed);
  const sizes = [1, 17, 300, 4099];
  const params = sizes.map((n, i) => new Parameter(fillValues(new Float32Array(n), next), { name: `p${i}` }));
  const opt = seed % 2
    ? new Adam([{ params: params.slice(0, 2), amsgrad: true }, { params: params.slice(2), weightDecay: 0.01 }], { lr: 0.01 })
    : new AdamW([{ params: params.slice(0, 3) }, { params: params.slice(3), maximize: true }], { lr: 0.003 });
  for (let s = 0; s < steps; s++) {
    params.forEach((p, i) => (p.grad = s % 5 === i ? null : fillValues(new Float32Array(p.numel), next)));
    opt.step();
  }
  return params.map((p) => [...new Uint32Array(p.data.buffer, p.data.byteOffset, p.numel)]);
}
