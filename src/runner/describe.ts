/**
 * The runner's words: how an action, a duration and a member that is not ready yet are described
 * in reasons, history, events and the step in progress. Pure.
 */
import type { MemberView } from '../core/types.js';
import { atVersion } from '../core/version.js';
import type { Action } from './decision.js';

/** Key of an action for retry accounting. */
export function actionKey(a: Action): string {
  switch (a.kind) {
    case 'precheck':
    case 'finalize':
    case 'takeOver':
    case 'handBack':
      return a.kind;
    case 'hook':
      return `hook:${a.hook}:${a.component ?? ''}`;
    case 'drain':
    case 'replace':
    case 'restore':
      return `${a.kind}:${a.member}`;
  }
}

/** The member an action concerns, if any. */
export function memberOf(a: Action): string | undefined {
  return 'member' in a ? a.member : undefined;
}

/** Human description of an action, for history, events and the "step in progress". */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'precheck':
      return 'run prechecks';
    case 'finalize':
      return 'finalize the upgrade';
    case 'takeOver':
      return 'take the members over from their owner';
    case 'handBack':
      return 'hand the members back to their owner';
    case 'hook':
      return `run ${a.hook}${a.component ? ` for ${a.component}` : ''}`;
    case 'drain':
      if (a.evacuate) return `drain ${a.member}${a.timedOut ? ' past its timeout (policy delete)' : ''}`;
      return `move leadership away from ${a.member}${a.target ? ` to ${a.target}` : ''}`;
    case 'replace':
      return `replace ${a.member} with ${a.version}`;
    case 'restore':
      return `restore ${a.member} after restart`;
  }
}

/** Several actions of one decision, grouped by kind: "drain w-3, w-4; replace w-1 with 1.37.2". */
export function describeActions(actions: Action[]): string {
  const groups = new Map<string, string[]>();
  for (const a of actions) {
    const member = memberOf(a);
    if (!member) {
      groups.set(describeAction(a), []);
      continue;
    }
    const key = describeAction(a).replace(member, '\0');
    const members = groups.get(key);
    if (members) members.push(member);
    else groups.set(key, [member]);
  }
  return [...groups]
    .map(([key, members]) => (members.length ? key.replace('\0', members.join(', ')) : key))
    .join('; ');
}

/** "90s", "15m", "2h", "15d". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** What a member on its way to `version` still lacks: "not ready (probe failed)", "catching up (lag 4)". */
export function notReadyDetail(view: MemberView | undefined, version: string): string {
  if (!view) return 'member not found';
  if (!view.running) return `not running${view.detail ? ` (${view.detail})` : ''}`;
  if (!atVersion(view.version, version)) return `still on ${view.version}`;
  if (!view.ready) return `not ready${view.detail ? ` (${view.detail})` : ''}`;
  if (!view.engine) return 'database not reachable yet';
  if (!view.engine.healthy)
    return `database reports unhealthy${view.engine.detail ? `: ${view.engine.detail}` : ''}`;
  if (!view.engine.caughtUp)
    return `catching up (lag ${view.engine.lag}${view.engine.detail ? `, ${view.engine.detail}` : ''})`;
  return 'converging';
}
