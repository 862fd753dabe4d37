export { Parameter, type ParameterOptions } from './param.js';
export {
  Optimizer,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamsInput,
  type ZeroGradOptions,
} from './optimizer.js';
export {
  Adam,
  AdamW,
  type AdamHyperparameters,
  type AdamOptions,
  type AdamParamGroup,
  type AdamState,
  type AdamWOptions,
} from './adam.js';
export { SimdAdamError, type ErrorCode } from './errors.js';
export { availableBackends, backend, setBackend, type BackendName } from './backend.js';
export { numThreads, setNumThreads } from './threads.js';
export { ParameterStore, type ParameterSpec } from './parameter_store.js';
