/**
 * `simd-adam`: PyTorch's Adam and AdamW, their learning-rate schedulers and checkpoints, with the
 * update in a SIMD native addon. The TensorFlow.js optimizers are in `simd-adam/tfjs`.
 * @module simd-adam
 */
export { Parameter, type ParameterOptions } from './nn/parameter.js';
export {
  Optimizer,
  type LoadedEntry,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamsInput,
  type ZeroGradOptions,
} from './optim/optimizer.js';
export type { SnakeCase, StateDict, StateDictInput, StateDictParamGroup } from './optim/state_dict.js';
export type { TensorJson, TensorLike } from './optim/state_dict_tensor.js';
export {
  Adam,
  AdamW,
  type NonFiniteMode,
  type OptimizerOptions,
  type AdamHyperparameters,
  type AdamOptions,
  type AdamParamGroup,
  type AdamState,
  type AdamState8bit,
  type AdamStateBfloat16,
  type AdamStateDict,
  type AdamStateDictEntry,
  type AdamStateFloat32,
  type AdamWOptions,
  type StateTensor,
} from './optim/adam.js';
export { dequantizeStateDict } from './optim/adam_state_dict.js';
export type { StateDtype } from './engine/lowbit_state.js';
export type { Q8Moment } from './reference/adam_lowbit.js';
export type { Bf16Tensor, Q8Tensor } from './optim/lowbit_tensor.js';
export { SimdAdamError, type ErrorCode } from './common/errors.js';
export { availableBackends, backend, setBackend, type BackendName } from './native/backend.js';
export { readStateDict, writeStateDict } from './checkpoint/files.js';
export type { CheckpointExtras } from './checkpoint/layout.js';
export type { Checkpoint, CheckpointTensor } from './checkpoint/restore.js';
export * from './lr_scheduler/index.js';
export { clipGradNorm, type ClipGradNormOptions } from './nn/clip_grad.js';
export type { ExplainEntry, ExplainReason } from './optim/explain.js';
export { registerOptimizerStepPostHook, registerOptimizerStepPreHook, type AnyOptimizer } from './optim/optimizer.js';
// prettier-ignore
export type { HookHandle, LoadStateDictPostHook, LoadStateDictPreHook, RegisterHookOptions, StateDictPostHook, StateDictPreHook, StepPostHook, StepPreHook } from './optim/hooks.js';
export { numThreads, setNumThreads } from './engine/threads.js';
export { ParameterStore, type AttachGradsOptions, type ParameterSpec } from './nn/parameter_store.js';
export { version } from './common/version.js';
