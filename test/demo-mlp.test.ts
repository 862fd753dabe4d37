/**
 * The demo's hand-written MLP: its backward pass is the gradient of its loss, and it follows
 * autograd's rules for which grads it creates, which the frozen-parameter comparison relies on.
 */
import { expect, it } from 'vitest';

import { Mlp } from '../examples/mlp.js';
import type { Dataset } from '../examples/mnist.js';
import { seededRandom } from '../examples/random.js';

const SIZES = [12, 8, 6, 4];

function tinyDataset(length: number, random: () => number): Dataset {
  // About a third of the inputs are 0, as MNIST's background pixels are: the sparse paths run.
  const images = Float32Array.from({ length: length * SIZES[0]! }, () => (random() < 0.35 ? 0 : random()));
  const labels = Uint8Array.from({ length }, () => Math.floor(random() * SIZES.at(-1)!));
  return { images, labels, length };
}

it('computes the gradient of its mean cross-entropy (checked by central differences)', () => {
  const random = seededRandom(11);
  const model = new Mlp(SIZES, random);
  const data = tinyDataset(16, random);
  const batch = Uint32Array.from({ length: 16 }, (_, i) => i);
  model.backward(data, batch);
  const lossOnly = { detachBelow: SIZES.length };
  const h = 1e-2;
  let checked = 0;
  for (const p of model.parameters()) {
    const grad = p.grad!.slice();
    for (let i = 0; i < p.numel; i += 3) {
      const saved = p.data[i]!;
      p.data[i] = saved + h;
      const up = model.backward(data, batch, lossOnly);
      p.data[i] = saved - h;
      const down = model.backward(data, batch, lossOnly);
      p.data[i] = saved;
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(numeric - grad[i]!), `${p.name}[${i}]`).toBeLessThan(2e-3 + 2e-2 * Math.abs(grad[i]!));
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(50);
});

it('accumulates into existing grads and creates none for detached or frozen parameters', () => {
  const random = seededRandom(5);
  const model = new Mlp(SIZES, random);
  const data = tinyDataset(4, random);
  const [fc1, fc2] = model.layers;
  const batch = [0, 1, 2, 3];

  model.backward(data, batch, { detachBelow: 1 });
  expect(fc1!.weight.grad).toBeNull();
  expect(fc1!.bias.grad).toBeNull();
  const once = fc2!.weight.grad!.slice();
  model.backward(data, batch, { detachBelow: 1 });
  fc2!.weight.grad!.forEach((g, i) => expect(g).toBeCloseTo(2 * once[i]!, 6));

  for (const p of model.parameters()) p.grad = null;
  fc1!.weight.requiresGrad = false;
  model.backward(data, batch);
  expect(fc1!.weight.grad).toBeNull();
  expect(fc1!.bias.grad).not.toBeNull();
});
