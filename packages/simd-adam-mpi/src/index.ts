export { Communicator, mpiWorld, type ReduceOp, type ReduceScatterOptions, type ReduceScatterScan, type TrafficCounters } from './communicator.js';
export { ZeroRedundancyOptimizer } from './zero.js';
export type { ZeroRedundancyOptions } from './options.js';
