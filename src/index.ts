export { Parameter, type ParameterOptions } from './param.js';
export {
  Optimizer,
  type LoadedEntry,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamsInput,
  type ZeroGradOptions,
} from './optimizer.js';
export type { SnakeCase, StateDict, StateDictInput, StateDictParamGroup } from './state_dict.js';
export type { TensorJson, TensorLike } from './tensor.js';
export {
  Adam,
  AdamW,
  type NonFiniteMode,
  type OptimizerOptions,
  type AdamHyperparameters,
  type AdamOptions,
  type AdamParamGroup,
  type AdamState,
  type AdamStateDict,
  type AdamStateDictEntry,
  type AdamWOptions,
} from './adam.js';
export { SimdAdamError, type ErrorCode } from './errors.js';
export { availableBackends, backend, setBackend, type BackendName } from './backend.js';
export { readStateDict, writeStateDict } from './checkpoint/files.js';
export type { Checkpoint, CheckpointExtras, CheckpointTensor } from './checkpoint/layout.js';
export * from './lr_scheduler/index.js';
export { clipGradNorm, type ClipGradNormOptions } from './clip_grad.js';
export type { ExplainEntry, ExplainReason } from './explain.js';
export {
  registerOptimizerStepPostHook,
  registerOptimizerStepPreHook,
  type AnyOptimizer,
  type HookHandle,
  type LoadStateDictPostHook,
  type LoadStateDictPreHook,
  type RegisterHookOptions,
  type StateDictPostHook,
  type StateDictPreHook,
  type StepPostHook,
  type StepPreHook,
} from './hooks.js';
export { numThreads, setNumThreads } from './threads.js';
export { ParameterStore, type ParameterSpec } from './parameter_store.js';
export { version } from './version.js';
