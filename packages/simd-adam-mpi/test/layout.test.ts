/** How shards are cut, and the options refused before any MPI is needed: these run everywhere. */
import { describe, expect, it } from 'vitest';
import { ParameterStore } from 'simd-adam';
import { cutPieces, flatLayout, SHARD_ALIGN, shardCounts, shardStarts } from '../src/layout.js';
import { ZeroRedundancyOptimizer } from '../src/zero.js';

describe('shardStarts', () => {
  it('cuts inside a parameter only at multiples of 256 from its start (else on a parameter boundary), covering everything in order, each shard within one block of total/N', () => {
    for (const sizes of [[300, 0, 517, 1110, 2000], [1], [255, 256, 257], [4096 * 4096 + 3, 10], [10, 10, 10]]) {
      const store = new ParameterStore(sizes.map((n) => ({ shape: [n] })));
      const { layout } = flatLayout(store.params, 'test');
      const total = store.data.length;
      for (const size of [1, 2, 3, 4, 7, 64]) {
        const starts = shardStarts(total, size, layout);
        expect(starts).toHaveLength(size + 1);
        expect(starts[0]).toBe(0);
        expect(starts[size]).toBe(total);
        for (let r = 1; r < size; r++) {
          expect(starts[r]!).toBeGreaterThanOrEqual(starts[r - 1]!);
          const inside = layout.find(({ param, offset }) => offset < starts[r]! && starts[r]! < offset + param.numel);
          if (inside) expect((starts[r]! - inside.offset) % SHARD_ALIGN).toBe(0);
        }
        const counts = shardCounts(starts);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
        // A parameter shorter than a block can hold a cut only at its ends: allow for it.
        const slack = Math.max(SHARD_ALIGN, ...sizes.filter((n) => n < SHARD_ALIGN));
        for (const count of counts) expect(Math.abs(count - total / size)).toBeLessThanOrEqual(slack);
      }
    }
  });
});

describe('cutPieces', () => {
  const store = new ParameterStore([
    { name: 'a', shape: [300] },
    { name: 'empty', shape: [0] },
    { name: 'b', shape: [10, 50] },
  ]);
  const { layout } = flatLayout(store.params, 'test');

  it("gives each element of every parameter to exactly one rank's piece, as views of the parameter's data", () => {
    const total = store.data.length;
    const starts = shardStarts(total, 3);
    const owner = new Int32Array(total).fill(-1);
    const emptyOwners: number[] = [];
    for (let r = 0; r < 3; r++) {
      const shardGrad = new Float32Array(starts[r + 1]! - starts[r]!);
      const pieces = cutPieces([layout], starts[r]!, starts[r + 1]!, total, shardGrad)[0]!;
      for (const piece of pieces) {
        if (piece.whole.param.numel === 0) emptyOwners.push(r);
        expect(piece.part.data.buffer).toBe(store.data.buffer);
        expect(piece.part.data.byteOffset).toBe(store.data.byteOffset + 4 * piece.from);
        expect(piece.grad.buffer).toBe(shardGrad.buffer);
        expect(piece.grad.length).toBe(piece.to - piece.from);
        for (let i = piece.from; i < piece.to; i++) {
          expect(owner[i]).toBe(-1);
          owner[i] = r;
        }
      }
    }
    expect(owner.every((r) => r >= 0)).toBe(true);
    expect(emptyOwners).toHaveLength(1);
  });

  it('names each piece after its parameter and the element range it holds', () => {
    const pieces = cutPieces([layout], 256, 512, store.data.length, new Float32Array(256))[0]!;
    expect(pieces.map((p) => p.part.name)).toEqual(['a[256:300]', 'empty[0:0]', 'b[0:212]']);
  });
});

describe('new ZeroRedundancyOptimizer() refuses bad options before it needs MPI', () => {
  const store = new ParameterStore([{ shape: [4] }]);
  it.each([
    [{ optimizer: 'SGD', comm: {} }, RangeError, /optimizer must be 'Adam' or 'AdamW', got the string "SGD"/],
    [{ optimizer: undefined, comm: {} }, TypeError, /optimizer must be 'Adam' or 'AdamW', got undefined/],
    [{ optimizer: 'AdamW', comm: {} }, TypeError, /comm must be the Communicator from await mpiWorld\(\), got an object/],
    [null, TypeError, /options must be an object/],
  ])('%o', (options, type, message) => {
    const attempt = () => new ZeroRedundancyOptimizer(store, options as never);
    expect(attempt).toThrow(type);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_OPTION');
    }
  });

  it('refuses parameters from two stores with ERR_PARAM_GROUP', () => {
    const other = new ParameterStore([{ shape: [4] }]);
    expect(() => flatLayout([store.params[0]!, other.params[0]!], 'here')).toThrow(/not in the same ParameterStore/);
  });
});
