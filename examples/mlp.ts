/**
 * A multilayer perceptron with its forward and backward passes written out: Linear layers with
 * ReLU between them, softmax cross-entropy on top. No ML framework; the optimizer only ever sees
 * Parameters and the gradients written into them.
 *
 * Gradients follow autograd's rules, so that the demo's freezing methods behave as they would in
 * PyTorch: backward() accumulates into `param.grad`, allocating it when it is null, and never
 * touches a parameter that does not require grad or that lies below a detached point.
 */
import { Parameter } from '../src/index.js';

import type { Dataset } from './mnist.js';

export class Linear {
  readonly weight: Parameter;
  readonly bias: Parameter;
  // Reused as the grad arrays, the way autograd keeps a .grad tensor alive between steps.
  readonly #gradBuffers = new Map<Parameter, Float32Array>();

  constructor(
    name: string,
    readonly inputs: number,
    readonly outputs: number,
    random: () => number,
    adopt?: { weight: Parameter; bias: Parameter },
  ) {
    // PyTorch's nn.Linear default: U(-1/√fan_in, 1/√fan_in) for weight and bias.
    const bound = 1 / Math.sqrt(inputs);
    const uniform = (n: number) => Float32Array.from({ length: n }, () => (2 * random() - 1) * bound);
    const weight = uniform(outputs * inputs), bias = uniform(outputs);
    // Adopted parameters (a ParameterStore's, say) get the same initial values.
    this.weight = adopt?.weight ?? new Parameter(weight, { name: `${name}.weight`, shape: [outputs, inputs] });
    this.bias = adopt?.bias ?? new Parameter(bias, { name: `${name}.bias`, shape: [outputs] });
    if (adopt) adopt.weight.data.set(weight), adopt.bias.data.set(bias);
  }

  /** The array backward() adds this parameter's gradient into, created the way autograd does. */
  gradFor(param: Parameter): Float32Array {
    if (param.grad !== null) return param.grad;
    let buffer = this.#gradBuffers.get(param);
    if (!buffer) this.#gradBuffers.set(param, (buffer = new Float32Array(param.numel)));
    param.grad = buffer.fill(0);
    return buffer;
  }
}

export interface BackwardOptions {
  /** Layers below this index get no gradient, as if their output had been detached. */
  detachBelow?: number;
}

export class Mlp {
  readonly layers: Linear[];
  // Per-sample scratch: each layer's output, and the gradient flowing into it.
  readonly #activations: Float32Array[];
  readonly #deltas: Float32Array[];
  // Indices of each layer's non-zero inputs. MNIST pixels are mostly 0 and ReLU zeroes about
  // half its outputs; skipping those inputs is exact, and several times faster.
  readonly #active: Uint32Array[];

  /** `adopt`: parameters to train instead of fresh ones (weight and bias of each layer in order,
   * as parameters() lists them, e.g. a ParameterStore's), initialized here like fresh ones. */
  constructor(sizes: readonly number[], random: () => number, adopt?: readonly Parameter[]) {
    this.layers = sizes
      .slice(1)
      .map((outputs, l) => new Linear(`fc${l + 1}`, sizes[l]!, outputs, random, adopt && { weight: adopt[2 * l]!, bias: adopt[2 * l + 1]! }));
    this.#activations = sizes.map((n) => new Float32Array(n));
    this.#deltas = sizes.map((n) => new Float32Array(n));
    this.#active = sizes.map((n) => new Uint32Array(n));
  }

  parameters(): Parameter[] {
    return this.layers.flatMap((layer) => [layer.weight, layer.bias]);
  }

  #image(data: Dataset, index: number): Float32Array {
    const size = this.layers[0]!.inputs;
    return data.images.subarray(index * size, (index + 1) * size);
  }

  /** Logits of one image, left in the last activation buffer. Returns how many inputs each
   * layer saw as non-zero (their indices are kept for backward). */
  #forward(image: Float32Array): number[] {
    this.#activations[0]!.set(image);
    const counts: number[] = [];
    this.layers.forEach((layer, l) => {
      const input = this.#activations[l]!;
      const output = this.#activations[l + 1]!;
      const active = this.#active[l]!;
      let count = 0;
      for (let i = 0; i < layer.inputs; i++) if (input[i] !== 0) active[count++] = i;
      counts.push(count);
      const w = layer.weight.data;
      const b = layer.bias.data;
      const last = l === this.layers.length - 1;
      for (let o = 0; o < layer.outputs; o++) {
        const row = o * layer.inputs;
        let sum = b[o]!;
        for (let k = 0; k < count; k++) {
          const i = active[k]!;
          sum += w[row + i]! * input[i]!;
        }
        output[o] = last || sum > 0 ? sum : 0;
      }
    });
    return counts;
  }

  /** Softmax of the logits in place; returns −log p[label]. */
  #softmax(label: number): number {
    const logits = this.#activations[this.layers.length]!;
    let max = -Infinity;
    for (const z of logits) max = Math.max(max, z);
    let total = 0;
    for (let c = 0; c < logits.length; c++) total += logits[c] = Math.exp(logits[c]! - max);
    for (let c = 0; c < logits.length; c++) logits[c]! /= total;
    return -Math.log(Math.max(logits[label]!, 1e-30));
  }

  /**
   * Mean cross-entropy over a batch, and its gradient added into each parameter's `grad` (like
   * `loss.backward()`): only for parameters that require grad and sit at or above `detachBelow`.
   */
  backward(data: Dataset, batch: ArrayLike<number>, options: BackwardOptions = {}): number {
    const detachBelow = options.detachBelow ?? 0;
    const grads = this.layers.map((layer, l) => ({
      weight: layer.weight.requiresGrad && l >= detachBelow ? layer.gradFor(layer.weight) : null,
      bias: layer.bias.requiresGrad && l >= detachBelow ? layer.gradFor(layer.bias) : null,
    }));
    // Backpropagation stops at the lowest layer that needs a gradient.
    const lowest = grads.findIndex((g) => g.weight !== null || g.bias !== null);
    const top = this.layers.length;
    const scale = 1 / batch.length;
    let loss = 0;
    for (let s = 0; s < batch.length; s++) {
      const index = batch[s]!;
      const label = data.labels[index]!;
      const counts = this.#forward(this.#image(data, index));
      loss += this.#softmax(label);
      if (lowest < 0) continue;
      const dTop = this.#deltas[top]!;
      dTop.set(this.#activations[top]!);
      dTop[label]! -= 1;
      for (let c = 0; c < dTop.length; c++) dTop[c]! *= scale;
      for (let l = top - 1; l >= lowest; l--) this.#backwardLayer(l, counts[l]!, grads[l]!, l > lowest);
    }
    return loss / batch.length;
  }

  #backwardLayer(
    l: number,
    count: number,
    grad: { weight: Float32Array | null; bias: Float32Array | null },
    propagate: boolean,
  ): void {
    const layer = this.layers[l]!;
    const input = this.#activations[l]!;
    const active = this.#active[l]!;
    const delta = this.#deltas[l + 1]!;
    const dInput = this.#deltas[l]!;
    const w = layer.weight.data;
    // Inactive inputs of a hidden layer are ReLUs that were off: their gradient stays 0. Active
    // ones are ReLUs that were on, whose derivative is 1.
    if (propagate) dInput.fill(0);
    for (let o = 0; o < layer.outputs; o++) {
      const d = delta[o]!;
      if (d === 0) continue; // a ReLU that was off: nothing flows through it
      const row = o * layer.inputs;
      if (grad.bias) grad.bias[o]! += d;
      if (grad.weight) {
        const gw = grad.weight;
        for (let k = 0; k < count; k++) {
          const i = active[k]!;
          gw[row + i]! += d * input[i]!;
        }
      }
      if (propagate) {
        for (let k = 0; k < count; k++) {
          const i = active[k]!;
          dInput[i]! += w[row + i]! * d;
        }
      }
    }
  }

  /** Share of the dataset classified correctly. */
  accuracy(data: Dataset): number {
    let correct = 0;
    const logits = this.#activations[this.layers.length]!;
    for (let s = 0; s < data.length; s++) {
      this.#forward(this.#image(data, s));
      let best = 0;
      for (let c = 1; c < logits.length; c++) if (logits[c]! > logits[best]!) best = c;
      if (best === data.labels[s]) correct++;
    }
    return correct / data.length;
  }
}
