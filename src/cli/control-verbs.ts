/**
 * The control verbs' names, descriptions and whether each drives the upgrade afterwards: all the
 * command line needs to register them, apart from what they do (control.ts, loaded when one runs).
 */

/** A control verb. */
export type ControlVerb = 'pause' | 'resume' | 'cancel' | 'finalize' | 'rollback';

/** A control verb as the command line shows it. */
export interface ControlVerbDef {
  description: string;
  /** After the spec change, the process that asked drives the upgrade (unless a driver runs). */
  drive: boolean;
}

/** Every control verb, in the order the CLI lists them. */
export const CONTROL_VERBS: Record<ControlVerb, ControlVerbDef> = {
  pause: { description: 'pause: members in flight finish, no new member starts', drive: false },
  resume: {
    description: 'resume a paused upgrade (also after an automatic pause) and drive it',
    drive: true,
  },
  cancel: { description: 'cancel: upgraded members stay upgraded, no new member starts', drive: true },
  finalize: {
    description: 'make the upgrade permanent (engines with finalization); rollback is impossible afterwards',
    drive: true,
  },
  rollback: {
    description: 'roll every upgraded member back to its original version (before finalization)',
    drive: true,
  },
};
