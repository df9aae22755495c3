/**
 * The flags that write a nodes target (`spec.target.nodes`) from the command line:
 * `baton plan|apply|check --platform kubernetes --engine kubernetes-nodes --to v1.37.2 --job-image
 * IMAGE [--pool NAME=SELECTOR ...]`. Each value is checked while the command line is parsed (bad
 * input is exit 2 before anything is opened); {@link nodesTargetFromFlags} assembles the target and
 * validates it with the resource's own schema and rules (api/nodes.ts), naming the flag at fault.
 */
import type { Command } from 'commander';
import {
  checkNodesTarget,
  KUBERNETES_NODES_ENGINE,
  labelSelectorSchema,
  nodesTargetSchema,
  type NodesTarget,
} from '../api/nodes.js';
import { BadInputError } from '../core/errors.js';
import { parseVersion } from '../core/version.js';
import { checked, collect, collected, parseCount, parseNamespace } from '../wiring/args.js';

/** The raw values of the node flags, as commander gives them. */
export interface NodesFlags {
  controlPlaneSelector?: string;
  pool?: string[];
  via?: string[];
  actuator?: string;
  jobImage?: string;
  jobCommand?: string[];
  jobEnv?: string[];
  jobNamespace?: string;
  privileged?: boolean;
  replaceImage?: string;
  replaceCommand?: string[];
  gracePeriod?: string;
  deletePodsWithoutController?: boolean;
  evictLocalStorage?: boolean;
}

/** Flag spelling of each field, for "needs --engine kubernetes-nodes". */
const FLAG_OF: Record<keyof NodesFlags, string> = {
  controlPlaneSelector: '--control-plane-selector',
  pool: '--pool',
  via: '--via',
  actuator: '--actuator',
  jobImage: '--job-image',
  jobCommand: '--job-command',
  jobEnv: '--job-env',
  jobNamespace: '--job-namespace',
  privileged: '--privileged',
  replaceImage: '--replace-image',
  replaceCommand: '--replace-command',
  gracePeriod: '--grace-period',
  deletePodsWithoutController: '--delete-pods-without-controller',
  evictLocalStorage: '--evict-local-storage',
};

function parseSelector(flag: string, text: string): string {
  if (!labelSelectorSchema.safeParse(text).success) {
    throw new BadInputError(
      'bad-selector',
      `${flag} ${text}: not a label selector; use key, !key, key=value or key!=value, comma-separated`,
    );
  }
  return text;
}

function parsePool(text: string): { name: string; selector: string } {
  const eq = text.indexOf('=');
  const name = eq > 0 ? text.slice(0, eq) : '';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 40 || name === 'control-plane') {
    throw new BadInputError(
      'bad-pool',
      `--pool ${text}: use NAME=SELECTOR with a pool name of lower-case letters, digits and '-' (not control-plane), e.g. --pool gpu=pool=gpu`,
    );
  }
  return { name, selector: parseSelector('--pool', text.slice(eq + 1)) };
}

function parseEnv(text: string): { name: string; value: string } {
  const eq = text.indexOf('=');
  if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(text.slice(0, eq))) {
    throw new BadInputError('bad-env', `--job-env ${text}: use NAME=VALUE, e.g. --job-env KUBEADM_FLAGS=-v5`);
  }
  return { name: text.slice(0, eq), value: text.slice(eq + 1) };
}

function parseVia(text: string): string {
  try {
    parseVersion(text);
  } catch (err) {
    throw new BadInputError('bad-version', `--via ${text}: ${(err as Error).message}`);
  }
  return text;
}

function parseActuator(text: string): 'job' | 'replace' {
  if (text === 'job' || text === 'replace') return text;
  throw new BadInputError('bad-actuator', `--actuator ${text}: use job or replace`);
}

/** Register the node flags on a verb that names a target. */
export function addNodesOptions(cmd: Command): Command {
  return cmd
    .option(
      '--control-plane-selector <selector>',
      'kubernetes-nodes: label selector of the control-plane nodes (default node-role.kubernetes.io/control-plane)',
      checked((v) => parseSelector('--control-plane-selector', v)),
    )
    .option(
      '--pool <name=selector>',
      'kubernetes-nodes: a node pool and its label selector, upgraded in the order given (repeatable; default one pool "workers" of every other node)',
      collected(parsePool),
      [],
    )
    .option(
      '--via <version>',
      'kubernetes-nodes: release of each minor a multi-minor jump passes through (repeatable)',
      collected(parseVia),
      [],
    )
    .option(
      '--actuator <type>',
      'kubernetes-nodes: job (a Job pinned to each node upgrades it) or replace (the pool replaces the node)',
      checked(parseActuator),
    )
    .option('--job-image <image>', 'kubernetes-nodes: image of the upgrade Job (actuator job)')
    .option(
      '--job-command <word>',
      'kubernetes-nodes: command of the upgrade Job, one word per flag (repeatable); it sees NODE_NAME, TARGET_VERSION, NODE_ROLE, FIRST_CONTROL_PLANE',
      collect,
      [],
    )
    .option(
      '--job-env <name=value>',
      'kubernetes-nodes: extra environment of the upgrade Job (repeatable)',
      collected(parseEnv),
      [],
    )
    .option(
      '--job-namespace <ns>',
      'kubernetes-nodes: namespace of the upgrade Jobs (default kube-upgrade)',
      checked((v) => parseNamespace('--job-namespace', v)),
    )
    .option('--privileged', 'kubernetes-nodes: run the upgrade Job privileged, host PID, / at /host')
    .option('--replace-image <image>', 'kubernetes-nodes: image of the Job that deletes a machine (replace)')
    .option(
      '--replace-command <word>',
      'kubernetes-nodes: command that deletes the machine, one word per flag (repeatable; replace)',
      collect,
      [],
    )
    .option(
      '--grace-period <seconds>',
      "kubernetes-nodes: grace period of each evicted pod (default the pod's own)",
      checked((v) => parseCount('--grace-period', v, 0, 86_400)),
    )
    .option(
      '--delete-pods-without-controller',
      'kubernetes-nodes: delete pods no controller recreates (default: refuse to drain)',
    )
    .option(
      '--evict-local-storage',
      'kubernetes-nodes: evict pods with emptyDir data, losing it (default: refuse to drain)',
    );
}

/** The node flags that were given, by their spelling. */
function givenFlags(f: NodesFlags): string[] {
  return (Object.keys(FLAG_OF) as (keyof NodesFlags)[])
    .filter((k) => {
      const v = f[k];
      return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false;
    })
    .map((k) => FLAG_OF[k]);
}

/**
 * The nodes target the flags write, or undefined when they write none: `--engine kubernetes-nodes`
 * with `--to` or any node flag. A node flag without that engine, an actuator without its settings,
 * or a target the resource schema refuses is a BadInputError naming the flag.
 */
export function nodesTargetFromFlags(
  f: NodesFlags & { engine?: string; to?: string },
): NodesTarget | undefined {
  const given = givenFlags(f);
  if (f.engine !== KUBERNETES_NODES_ENGINE) {
    if (given.length > 0) {
      throw new BadInputError(
        'bad-target',
        `${given[0]} describes a node upgrade: add --engine ${KUBERNETES_NODES_ENGINE}`,
      );
    }
    return undefined;
  }
  if (given.length === 0 && f.to === undefined) return undefined;
  const actuator = f.actuator ? parseActuator(f.actuator) : f.jobImage ? 'job' : undefined;
  if (!actuator) {
    throw new BadInputError(
      'bad-target',
      `--engine ${KUBERNETES_NODES_ENGINE} needs an actuator: --job-image IMAGE (a Job upgrades each node) or --actuator replace (the pool replaces each node)`,
    );
  }
  const jobFlags = given.filter((x) => x.startsWith('--job-') || x === '--privileged');
  const replaceFlags = given.filter((x) => x.startsWith('--replace-'));
  if (actuator === 'replace' && jobFlags.length > 0) {
    throw new BadInputError('bad-target', `${jobFlags[0]} is for --actuator job, not replace: drop it`);
  }
  if (actuator === 'job' && replaceFlags.length > 0) {
    throw new BadInputError('bad-target', `${replaceFlags[0]} is for --actuator replace, not job: drop it`);
  }
  if (actuator === 'job' && !f.jobImage) {
    throw new BadInputError('bad-target', '--actuator job needs --job-image IMAGE (the upgrade Job)');
  }
  if (actuator === 'replace' && (f.replaceCommand?.length ?? 0) > 0 && !f.replaceImage) {
    throw new BadInputError(
      'bad-target',
      '--replace-command needs --replace-image IMAGE (the image that runs it)',
    );
  }
  const target: NodesTarget = {
    ...(f.controlPlaneSelector ? { controlPlane: { selector: f.controlPlaneSelector } } : {}),
    ...(f.pool?.length ? { pools: f.pool.map(parsePool) } : {}),
    ...(f.via?.length ? { via: f.via } : {}),
    actuator:
      actuator === 'job'
        ? {
            type: 'job',
            job: {
              image: f.jobImage!,
              ...(f.jobCommand?.length ? { command: f.jobCommand } : {}),
              ...(f.jobEnv?.length ? { env: f.jobEnv.map(parseEnv) } : {}),
              ...(f.jobNamespace ? { namespace: f.jobNamespace } : {}),
              ...(f.privileged ? { privileged: true } : {}),
            },
          }
        : {
            type: 'replace',
            replace: {
              ...(f.replaceImage ? { image: f.replaceImage } : {}),
              ...(f.replaceCommand?.length ? { command: f.replaceCommand } : {}),
            },
          },
    ...(f.gracePeriod !== undefined || f.deletePodsWithoutController || f.evictLocalStorage
      ? {
          drain: {
            ...(f.gracePeriod !== undefined
              ? { gracePeriodSeconds: parseCount('--grace-period', f.gracePeriod, 0, 86_400) }
              : {}),
            ...(f.deletePodsWithoutController ? { podsWithoutController: 'delete' as const } : {}),
            ...(f.evictLocalStorage ? { localStorage: 'evict' as const } : {}),
          },
        }
      : {}),
  };
  const pools = target.pools?.map((p) => p.name) ?? [];
  const dup = pools.find((p, i) => pools.indexOf(p) !== i);
  if (dup) throw new BadInputError('bad-pool', `--pool ${dup} is given twice: name each pool once`);
  if (!target.pools && f.controlPlaneSelector?.includes(',')) {
    throw new BadInputError(
      'bad-target',
      `--control-plane-selector ${f.controlPlaneSelector} has several terms, so "every other node" cannot be one selector: give the workers with --pool NAME=SELECTOR`,
    );
  }
  checkNodesTarget(nodesTargetSchema.parse(target));
  return target;
}
