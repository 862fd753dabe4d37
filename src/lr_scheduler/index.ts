/**
 * PyTorch's learning-rate schedulers (torch 1.13 semantics) with camelCase options:
 * `new StepLR(optimizer, { stepSize: 30, gamma: 0.1 })`. Call `scheduler.step()` after
 * `optimizer.step()`; ReduceLROnPlateau takes the metric, `scheduler.step(valLoss)`; ChainedScheduler
 * steps several chainable schedulers at once.
 */
export {
  LRScheduler,
  type LRSchedulerOptions,
  type LRSchedulerStateDict,
  type SchedulableOptimizer,
  type SchedulerParamGroup,
} from './base.js';
export { LambdaLR, type LambdaLROptions, type LrLambda } from './lambda.js';
export {
  StepLR,
  MultiStepLR,
  ExponentialLR,
  PolynomialLR,
  type StepLROptions,
  type MultiStepLROptions,
  type ExponentialLROptions,
  type PolynomialLROptions,
} from './decay.js';
export { ConstantLR, LinearLR, type ConstantLROptions, type LinearLROptions } from './warmup.js';
export {
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  type CosineAnnealingLROptions,
  type CosineAnnealingWarmRestartsOptions,
} from './cosine.js';
export { OneCycleLR, type OneCycleLROptions } from './one_cycle.js';
export { SequentialLR, type SequentialLROptions } from './sequential.js';
export { ChainedScheduler } from './chained.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './plateau.js';
