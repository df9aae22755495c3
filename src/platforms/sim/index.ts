/**
 * The deterministic simulated platform: a {@link SimCluster} world, its platform and engine views,
 * the description parser, faults, the recorder and the in-memory journal.
 */
export { SimCluster, SIM_CAUGHT_UP_LAG, type SimClusterOptions, type SimMemberView } from './cluster.js';
export { SimPlatform } from './platform.js';
export { SimEngine, PRESERVE_DOWNGRADE } from './engine.js';
export { MemoryJournalStore } from './journal.js';
export {
  DEFAULT_SIM_TIMINGS,
  parseSimClusterDescription,
  parseSimClusterYaml,
  simDescriptionFromFlags,
  type SimClusterDescription,
  type SimClusterInput,
  type SimComponentDescription,
  type SimFlags,
  type SimMemberDescription,
  type SimTimings,
} from './description.js';
export { SimCrash, SIM_CALL_KINDS, DISRUPTIVE_CALLS, type SimCallKind, type SimFault } from './faults.js';
export { SimRecorder } from './recorder.js';
export type {
  SimCall,
  LeaderStop,
  PrerequisiteViolation,
  Election,
  Transfer,
  EngineAction,
} from './recorder.js';
export { mulberry32, deriveSeed, type Rng } from './prng.js';
export { simClusterFromFlags, createSimWorld, type SimWorld } from './world.js';
