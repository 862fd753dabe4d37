/** Narrowing for tests of float32 state: the state views and state dict moments are typed for
 * every storage format; these assert the float32 one (and fail the test otherwise). */
import type { AdamState, AdamStateFloat32, StateTensor } from '../../src/index.js';

export function f32State(state: AdamState | undefined): AdamStateFloat32 {
  if (!state || state.dtype !== 'float32') throw new Error(`expected float32 state, got ${state ? state.dtype : 'none'}`);
  return state;
}

export function f32Tensor(tensor: StateTensor | undefined): Float32Array {
  if (!(tensor instanceof Float32Array)) throw new Error('expected a float32 state dict tensor');
  return tensor;
}
