/** generic: pod readiness is the health gate; no admin API, so no credentials and no local processes. */
import { GenericEngine } from '../../engines/generic/engine.js';
import type { EngineKit } from '../kit.js';

/** The generic engine's kit. */
export const kit: EngineKit = { create: () => new GenericEngine() };
