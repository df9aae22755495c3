/**
 * The control verbs (pause, resume, cancel, finalize, rollback) as functions, shared by the CLI and
 * `baton dashboard`: the same lookup of the upgrade, the same checks and refusals, the same spec
 * change, and the same decision whether this process then drives the upgrade.
 */
import { BadInputError } from '../core/errors.js';
import type { UpgradeRecord } from '../core/ports.js';
import type { UpgradeSpec } from '../core/types.js';
import { isTerminal } from '../core/types.js';
import { engineRules } from '../engines/registry.js';
import { rollbackRefusal } from '../plan/rollback.js';
import { liveDriver } from './driver.js';
import type { Target } from '../wiring/targets.js';
import { CONTROL_VERBS, type ControlVerb, type ControlVerbDef } from './control-verbs.js';

export type { ControlVerb };

/** What a control verb does. */
export interface ControlDef extends ControlVerbDef {
  /** The new spec; throws BadInputError when the verb is refused for this upgrade. */
  change(spec: UpgradeSpec, rec: UpgradeRecord): UpgradeSpec;
}

/** Every control verb, in the order the CLI lists them. */
export const CONTROLS: Record<ControlVerb, ControlDef> = {
  pause: {
    ...CONTROL_VERBS.pause,
    change: (s) => ({ ...s, paused: true }),
  },
  resume: {
    ...CONTROL_VERBS.resume,
    change: (s) => ({ ...s, paused: false }),
  },
  cancel: {
    ...CONTROL_VERBS.cancel,
    change: (s) => ({ ...s, cancel: true }),
  },
  finalize: {
    ...CONTROL_VERBS.finalize,
    change: (s, rec) => {
      if (!rec.status.plan?.finalization) {
        throw new BadInputError(
          'nothing-to-finalize',
          `upgrade ${s.name} (${s.engine}) has no finalization step`,
        );
      }
      return { ...s, finalizeRequested: true, paused: false };
    },
  },
  rollback: {
    ...CONTROL_VERBS.rollback,
    change: (s, rec) => {
      // The runner's own check (plan/rollback.ts), on the versions the journal records.
      const refused = rollbackRefusal(rec.status, engineRules(s.engine).versions, (_name, m) =>
        m.state === 'pending' ? m.from : m.to,
      );
      if (refused) throw new BadInputError('rollback-refused', `upgrade ${s.name}: ${refused}`);
      return { ...s, rollback: true, paused: false };
    },
  },
};

/** True for a control verb's name. */
export function isControlVerb(verb: string): verb is ControlVerb {
  return Object.hasOwn(CONTROLS, verb);
}

/** Refuses the sim platform, which keeps no state between commands. */
export function noSimState(t: Target): void {
  if (t.kind === 'sim') {
    throw new BadInputError(
      'sim-has-no-state',
      'the sim platform keeps no state between commands: run the whole dry run with `baton apply --platform sim ...`',
    );
  }
}

/** The upgrade a control verb acts on: by name, or the only/latest non-terminal one. */
export async function findUpgrade(target: Target, name: string | undefined): Promise<UpgradeRecord> {
  if (name) {
    const r = await target.platform.journal.get(name);
    if (!r)
      throw new BadInputError('no-such-upgrade', `no upgrade named "${name}" on cluster ${target.cluster}`);
    return r;
  }
  const all = await target.platform.journal.list();
  if (all.length === 0) {
    throw new BadInputError(
      'no-upgrade',
      `cluster ${target.cluster} has no upgrade: start one with \`baton apply --to VERSION\``,
    );
  }
  const open = all.filter((r) => !isTerminal(r.status.phase));
  if (open.length > 1) {
    throw new BadInputError(
      'which-upgrade',
      `several upgrades are open (${open.map((r) => r.spec.name).join(', ')}): choose one with --name`,
    );
  }
  return open[0] ?? all[all.length - 1]!;
}

/** What a control request did. */
export interface ControlResult {
  spec: UpgradeSpec;
  /** The requester should now drive the upgrade itself. */
  drive: boolean;
  /** PID of the running baton that carries the request out, when there is one. */
  driverPid?: number;
}

/**
 * Records `verb` on the upgrade `name` (or the only open one) of `t`: refuses the sim platform, a
 * missing or ended upgrade, and what the verb itself refuses (BadInputError, nothing written);
 * then writes the spec. `drive` says whether the caller should drive the upgrade now: the verb
 * drives, `detach` is not set, the platform has no operator, and no other baton drives it.
 */
export async function requestControl(
  t: Target,
  verb: ControlVerb,
  name: string | undefined,
  detach = false,
): Promise<ControlResult> {
  noSimState(t);
  const def = CONTROLS[verb];
  const rec = await findUpgrade(t, name);
  if (isTerminal(rec.status.phase)) {
    // A finalized upgrade refuses a rollback for that reason, which says what to do instead.
    if (verb === 'rollback' && rec.status.finalized) CONTROLS.rollback.change(rec.spec, rec);
    throw new BadInputError(
      'upgrade-ended',
      `upgrade ${rec.spec.name} is ${rec.status.phase}: there is nothing to ${verb}`,
    );
  }
  const spec = await t.platform.journal.updateSpec(rec.spec.name, (s) => def.change(s, rec));
  if (!def.drive || detach || t.kind === 'kubernetes') return { spec, drive: false };
  const holder = await liveDriver(t.platform.journal, spec.name);
  if (holder !== undefined) return { spec, drive: false, driverPid: holder };
  return { spec, drive: true };
}
