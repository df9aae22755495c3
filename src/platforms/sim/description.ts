/**
 * The description of a simulated cluster: which engine, which components with how many members on
 * which versions, the seed, the timings and the faults. Read from YAML by the CLI (`--cluster
 * FILE`) or built from `--engine/--members/--from`. Bad input becomes one BadInputError line that
 * names the field and how to fix it.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BadInputError } from '../../core/errors.js';
import type { Role } from '../../core/types.js';
import type { EngineRules, RulesByName, Topology } from '../../core/rules.js';
import { parseVersion } from '../../core/version.js';
import { SIM_CALL_KINDS, type SimFault } from './faults.js';

/** Durations of the simulated world, in ms of the injected clock. */
export interface SimTimings {
  /** From replace to the new version running (not yet ready). */
  replaceMs: number;
  /** From running to ready. */
  readyMs: number;
  /** From ready to caught up (lag 0). */
  catchUpMs: number;
  /** From a drain request to the leadership being moved. */
  drainMs: number;
  /** From a leader stopping while leading to a new leader. */
  electionMs: number;
}

/** Defaults, in the range of the measured local figures scaled to a process restart. */
export const DEFAULT_SIM_TIMINGS: SimTimings = {
  replaceMs: 5_000,
  readyMs: 3_000,
  catchUpMs: 2_000,
  drainMs: 1_000,
  electionMs: 1_500,
};

/** One member as described. */
export interface SimMemberDescription {
  name: string;
  version: string;
  /** Role the database gives it; assigned from the topology when absent. */
  role?: Role;
  /** False: up but not Ready (stuck) until replaced. */
  ready: boolean;
  /** Persistent replication lag until replaced (engine units). */
  lag: number;
  /** Leaderships held (multi-raft region leaders, sharded primaries); spread by the seed when absent. */
  leaderCount?: number;
}

/** One component as described. */
export interface SimComponentDescription {
  name: string;
  members: SimMemberDescription[];
}

/** A validated, defaulted cluster description. */
export interface SimClusterDescription {
  /** Cluster name as the platform knows it. */
  name: string;
  engine: string;
  /** The rules of `engine`, resolved when the description was parsed. */
  rules: EngineRules;
  /** Version every member runs unless its component or itself says otherwise. */
  version: string;
  components: SimComponentDescription[];
  seed: number;
  timings: SimTimings;
  faults: SimFault[];
  /** Precheck name -> reason: the simulated engine reports these checks as failing. */
  precheckFailures: Record<string, string>;
  /**
   * The members belong to an owner that would roll them by itself (a StatefulSet controller, an
   * operator): the platform has take-over and hand-back steps, replacing a member the owner
   * still holds fails, and a replacement asked for is carried out by the cluster itself
   * (`Platform.durableActions`), as a lowered StatefulSet partition is.
   */
  owner: boolean;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const versionString = z.string().min(1);
const memberName = z.string().regex(NAME_RE, 'must be lowercase letters, digits and dashes');

const memberSchema = z
  .object({
    name: memberName.optional(),
    version: versionString.optional(),
    role: z.enum(['leader', 'follower', 'primary', 'replica', 'learner', 'none']).optional(),
    ready: z.boolean().optional(),
    lag: z.number().int().min(0).optional(),
    leaderCount: z.number().int().min(0).optional(),
  })
  .strict();

const componentSchema = z
  .object({
    name: memberName,
    members: z.union([z.number().int().min(1).max(500), z.array(memberSchema).min(1).max(500)]),
    version: versionString.optional(),
  })
  .strict();

const ms = z.number().min(0).max(86_400_000);

const faultSchema = z.discriminatedUnion('kind', [
  z
    .object({ kind: z.literal('never-ready'), member: memberName, version: versionString.optional() })
    .strict(),
  z.object({ kind: z.literal('drain-timeout'), member: memberName }).strict(),
  z
    .object({
      kind: z.literal('api-error'),
      call: z.enum(SIM_CALL_KINDS),
      nth: z.number().int().min(1).optional(),
      probability: z.number().gt(0).max(1).optional(),
    })
    .strict()
    .refine((f) => (f.nth === undefined) !== (f.probability === undefined), {
      message: 'give exactly one of nth (the Nth call fails) or probability (each call fails with it)',
    }),
  z
    .object({
      kind: z.literal('crash'),
      nth: z.number().int().min(1),
      when: z.enum(['before', 'after']).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('slow'), member: memberName, factor: z.number().min(1).max(1000) }).strict(),
]);

const descriptionSchema = z
  .object({
    name: memberName.optional(),
    engine: z.string().min(1),
    version: versionString,
    components: z.array(componentSchema).min(1).optional(),
    seed: z.number().int().min(0).max(4294967295).optional(),
    timings: z
      .object({ replaceMs: ms, readyMs: ms, catchUpMs: ms, drainMs: ms, electionMs: ms })
      .partial()
      .strict()
      .optional(),
    faults: z.array(faultSchema).optional(),
    precheckFailures: z.record(z.string(), z.string()).optional(),
    owner: z.boolean().optional(),
  })
  .strict();

/** The description as written by a user (YAML or code), before defaults. */
export type SimClusterInput = z.input<typeof descriptionSchema>;

function fieldPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

function hintFor(path: PropertyKey[], engines: RulesByName): string {
  const last = [...path].reverse().find((p) => typeof p === 'string');
  switch (last) {
    case 'members':
      return 'give a member count (1-500) or a list of members like { name: db-0, version: 3.5.9, role: leader }';
    case 'version':
      return 'write a version like 3.5.9, v8.1.0 or 7.4.6-2';
    case 'role':
      return 'use leader/follower (raft), primary/replica (replication) or leave it out';
    case 'kind':
      return 'use one of never-ready, drain-timeout, api-error, crash, slow';
    case 'call':
      return `use one of ${SIM_CALL_KINDS.join(', ')}`;
    case 'name':
    case 'member':
      return 'use lowercase letters, digits and dashes, e.g. db-0';
    case 'engine':
      return `use one of ${engines.names().join(', ')}`;
    default:
      return path.includes('timings') ? 'give milliseconds as a non-negative number' : 'fix the value';
  }
}

function zodToBadInput(error: z.ZodError, source: string, engines: RulesByName): BadInputError {
  const issue = error.issues[0];
  if (!issue) return new BadInputError('bad-cluster', `${source}: invalid cluster description`);
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? `${fieldPath(issue.path)}: ` : '';
    return new BadInputError(
      'bad-cluster',
      `${source}: ${where}unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove it or check its spelling`,
    );
  }
  return new BadInputError(
    'bad-cluster',
    `${source}: ${fieldPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}; ${hintFor(issue.path, engines)}`,
  );
}

function checkVersion(raw: string, field: string, source: string): string {
  try {
    parseVersion(raw);
    return raw;
  } catch (err) {
    throw new BadInputError('bad-cluster', `${source}: ${field}: ${(err as Error).message}`);
  }
}

const ROLES_BY_TOPOLOGY: Record<Topology, Role[]> = {
  raft: ['leader', 'follower', 'learner'],
  replication: ['primary', 'replica'],
  'multi-raft': ['none'],
  sharded: ['none'],
  stateless: ['none'],
};

/**
 * Validate and default a description. Components default to every component of the engine with
 * three members; member names default to `<component>-<ordinal>`.
 */
export function parseSimClusterDescription(
  input: unknown,
  engines: RulesByName,
  source = 'cluster description',
): SimClusterDescription {
  const parsed = descriptionSchema.safeParse(input);
  if (!parsed.success) throw zodToBadInput(parsed.error, source, engines);
  const d = parsed.data;
  let rules: EngineRules;
  try {
    rules = engines.get(d.engine);
  } catch (err) {
    throw new BadInputError('bad-cluster', `${source}: engine: ${(err as Error).message}`);
  }
  checkVersion(d.version, 'version', source);
  const componentsIn: z.infer<typeof componentSchema>[] =
    d.components ?? rules.components.map((c) => ({ name: c.name, members: 3 }));
  const seen = new Set<string>();
  const components: SimComponentDescription[] = componentsIn.map((c, ci) => {
    const rule = rules.components.find((r) => r.name === c.name);
    if (!rule) {
      throw new BadInputError(
        'bad-cluster',
        `${source}: components[${ci}].name: "${c.name}" is not a component of ${rules.name}; use one of ${rules.components.map((r) => r.name).join(', ')}`,
      );
    }
    const componentVersion =
      c.version === undefined ? d.version : checkVersion(c.version, `components[${ci}].version`, source);
    const list = typeof c.members === 'number' ? Array.from({ length: c.members }, () => ({})) : c.members;
    const members = list.map((m: z.infer<typeof memberSchema>, mi): SimMemberDescription => {
      const field = `components[${ci}].members[${mi}]`;
      const name = m.name ?? `${c.name}-${mi}`;
      if (seen.has(name)) {
        throw new BadInputError(
          'bad-cluster',
          `${source}: ${field}.name: "${name}" is used twice; give each member a unique name`,
        );
      }
      seen.add(name);
      if (m.role !== undefined && !ROLES_BY_TOPOLOGY[rule.topology].includes(m.role)) {
        throw new BadInputError(
          'bad-cluster',
          `${source}: ${field}.role: "${m.role}" is not a role of a ${rule.topology} component; use ${ROLES_BY_TOPOLOGY[rule.topology].join(' or ')} or leave it out`,
        );
      }
      if (m.ready === false && (m.role === 'leader' || m.role === 'primary')) {
        throw new BadInputError(
          'bad-cluster',
          `${source}: ${field}: a member that is not ready cannot be the ${m.role}; move the role to a ready member`,
        );
      }
      const out: SimMemberDescription = {
        name,
        version:
          m.version === undefined ? componentVersion : checkVersion(m.version, `${field}.version`, source),
        ready: m.ready ?? true,
        lag: m.lag ?? 0,
      };
      if (m.role !== undefined) out.role = m.role;
      if (m.leaderCount !== undefined) out.leaderCount = m.leaderCount;
      return out;
    });
    const leaders = members.filter((m) => m.role === 'leader' || m.role === 'primary');
    if (leaders.length > 1) {
      throw new BadInputError(
        'bad-cluster',
        `${source}: components[${ci}].members: ${leaders.map((m) => m.name).join(' and ')} are both ${leaders[0]?.role}; a ${rule.topology} component has at most one`,
      );
    }
    return { name: c.name, members };
  });
  const names = new Set(components.flatMap((c) => c.members.map((m) => m.name)));
  const faults: SimFault[] = (d.faults ?? []).map((f, fi) => {
    if ('member' in f && !names.has(f.member)) {
      throw new BadInputError(
        'bad-cluster',
        `${source}: faults[${fi}].member: no member named "${f.member}"; use one of ${[...names].join(', ')}`,
      );
    }
    if (f.kind === 'crash') return { kind: 'crash', nth: f.nth, when: f.when ?? 'after' };
    if (f.kind === 'never-ready' && f.version !== undefined)
      checkVersion(f.version, `faults[${fi}].version`, source);
    return f as SimFault;
  });
  for (const name of Object.keys(d.precheckFailures ?? {})) {
    if (!rules.prechecks.some((p) => p.name === name)) {
      throw new BadInputError(
        'bad-cluster',
        `${source}: precheckFailures.${name}: ${rules.name} has no precheck "${name}"; use one of ${rules.prechecks.map((p) => p.name).join(', ')}`,
      );
    }
  }
  return {
    name: d.name ?? 'sim',
    engine: rules.name,
    rules,
    version: d.version,
    components,
    seed: d.seed ?? 1,
    timings: { ...DEFAULT_SIM_TIMINGS, ...d.timings },
    faults,
    precheckFailures: { ...d.precheckFailures },
    owner: d.owner ?? false,
  };
}

/** Parse a YAML cluster file; syntax errors name the line. */
export function parseSimClusterYaml(
  text: string,
  engines: RulesByName,
  source = 'cluster file',
): SimClusterDescription {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false });
  } catch (err) {
    const first = ((err as Error).message ?? String(err)).split('\n')[0];
    throw new BadInputError('bad-cluster', `${source}: not valid YAML (${first}); fix the syntax`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new BadInputError(
      'bad-cluster',
      `${source}: expected a mapping with engine, version and components`,
    );
  }
  return parseSimClusterDescription(doc, engines, source);
}

/** The flags `--engine`, `--members`, `--from`, `--seed` of the CLI. */
export interface SimFlags {
  engine: string;
  /** Members of every component of the engine (default 3). */
  members?: number;
  from: string;
  seed?: number;
}

/** A description from CLI flags: every component of the engine with `members` members on `from`. */
export function simDescriptionFromFlags(flags: SimFlags, engines: RulesByName): SimClusterDescription {
  const members = flags.members ?? 3;
  if (!Number.isInteger(members) || members < 1 || members > 500) {
    throw new BadInputError(
      'bad-cluster',
      `--members ${flags.members}: give a whole number of members from 1 to 500`,
    );
  }
  const input: SimClusterInput = { engine: flags.engine, version: flags.from };
  if (engines.names().includes(flags.engine)) {
    input.components = engines.get(flags.engine).components.map((c) => ({ name: c.name, members }));
  }
  if (flags.seed !== undefined) input.seed = flags.seed;
  return parseSimClusterDescription(input, engines, 'flags');
}
