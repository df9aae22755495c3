/**
 * The engines Baton knows by name. Front ends resolve `--engine NAME` / `spec.engine` here; only
 * pure rules live in this registry (adapters that talk to a database are wired by the front ends).
 */
import { BadInputError } from '../core/errors.js';
import type { EngineRules, RulesByName } from '../core/rules.js';
import { cockroachdbRules } from './cockroachdb/rules.js';
import { etcdRules } from './etcd/rules.js';
import { genericRules } from './generic/rules.js';
import { postgresRules } from './postgres/rules.js';
import { redisRules } from './redis/rules.js';
import { kubernetesRules } from './kubernetes/rules.js';
import { redisEnterpriseRules } from './redis-enterprise/rules.js';
import { simRules } from './sim/rules.js';
import { tidbRules } from './tidb/rules.js';

const RULES: ReadonlyMap<string, EngineRules> = new Map<string, EngineRules>([
  [etcdRules.name, etcdRules],
  [postgresRules.name, postgresRules],
  [redisRules.name, redisRules],
  [cockroachdbRules.name, cockroachdbRules],
  [tidbRules.name, tidbRules],
  [kubernetesRules.name, kubernetesRules],
  [redisEnterpriseRules.name, redisEnterpriseRules],
  [simRules.name, simRules],
  [genericRules.name, genericRules],
]);

/** Names of every registered engine, sorted. */
export function knownEngines(): string[] {
  return [...RULES.keys()].sort();
}

/** The rules of engine `name`; BadInputError `unknown-engine` listing the known engines otherwise. */
export function engineRules(name: string): EngineRules {
  const rules = RULES.get(name);
  if (!rules) {
    throw new BadInputError(
      'unknown-engine',
      `unknown engine "${name}": use one of ${knownEngines().join(', ')}`,
    );
  }
  return rules;
}

/** The registry as the {@link RulesByName} that the simulator and other code below the wiring take. */
export const engineRegistry: RulesByName = { names: knownEngines, get: engineRules };
