/**
 * The pure planner's public API: version parsing and paths, member order, batches, safety
 * predicates, time estimates and the plan preview. No I/O anywhere below this module.
 */
export * from './types.js';
export * from './version.js';
export * from './order.js';
export * from './batches.js';
export * from './safety.js';
export * from './path.js';
export * from './eta.js';
export * from './plan.js';
