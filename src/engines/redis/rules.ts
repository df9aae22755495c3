/**
 * What Baton knows about upgrading a Redis Cluster, without I/O: one sharded component, the
 * version steps Redis supports, the prechecks and typical step durations.
 *
 * Version policy. Redis reads RDB and AOF files written by older releases but not by newer ones
 * (each of 7.0, 7.2 and 7.4 raised the RDB format version), and a replica cannot full-sync from a
 * primary whose RDB it cannot load. So:
 * - forward within a major (minor or patch) is one rolling pass;
 * - forward across majors goes one major at a time, through the releases in {@link REDIS_RELEASES};
 * - a downgrade is refused, except between labels of the same release (`7.0.15+r1` back to
 *   `7.0.15`, or build numbers of one release), which run the very same on-disk formats;
 * - a `+build` label (e.g. `7.0.15+r1`) is a configuration-only rolling restart.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import { compareVersions, type Version } from '../../core/version.js';

/** Releases used to build multi-step paths, ascending. */
export const REDIS_RELEASES = ['6.0.0', '6.2.0', '7.0.0', '7.2.0', '7.4.0', '8.0.0'];

const NOTES: Record<string, string[]> = {
  '6.0': [
    'Redis 6.0: ACLs and RESP3 arrive; clients that parse INFO or CLIENT LIST output should be checked.',
  ],
  '6.2': [
    'Redis 6.2: new commands (GETDEL, COPY, ...) and CLIENT PAUSE WRITE; no format change for replicas.',
  ],
  '7.0': [
    'Redis 7.0 writes RDB version 10 and a multi-part AOF directory (appenddirname): a 6.x server cannot load its files, so this hop cannot be undone by a downgrade.',
    'Redis 7.0: cluster-port and CLUSTER ADDSLOTSRANGE; replicas on 6.x cannot full-sync from a 7.0 primary, so replicas go first.',
  ],
  '7.2': ['Redis 7.2 writes RDB version 11 (listpack encodings); a 7.0 server cannot load its files.'],
  '7.4': ['Redis 7.4 writes RDB version 12 (hash-field expiration); a 7.2 server cannot load its files.'],
  '8.0': [
    'Redis 8.0: new licensing (RSALv2/SSPLv1/AGPLv3) and modules folded into the server; review the release notes for changed defaults before rolling.',
  ],
};

function sameRelease(a: Version, b: Version): boolean {
  return (
    a.major === b.major &&
    a.minor === b.minor &&
    a.patch === b.patch &&
    a.prerelease.join('.') === b.prerelease.join('.')
  );
}

function isOlder(a: Version, b: Version): boolean {
  return compareVersions(a, b) < 0;
}

function allowDowngrade(from: Version, to: Version): RuleVerdict {
  if (!isOlder(to, from) || sameRelease(from, to)) return { ok: true };
  return {
    ok: false,
    reason: `downgrade from Redis ${from.raw} to ${to.raw} is refused: an older redis-server may not load the RDB/AOF files a newer one wrote; restore from a backup taken on ${to.raw} instead`,
  };
}

/** The rules of the `redis` engine. */
export const redisRules: EngineRules = {
  name: 'redis',
  title: 'Redis Cluster',
  components: [
    {
      name: 'redis',
      topology: 'sharded',
      stage: 'cluster',
      prerequisites: [],
      // Failure detection and failover elections need a majority of the slot-owning primaries.
      quorum: true,
    },
  ],
  versions: {
    direct(from, to) {
      if (isOlder(to, from)) return allowDowngrade(from, to);
      if (to.major - from.major > 1) {
        return {
          ok: false,
          reason: `Redis ${from.raw} -> ${to.raw} crosses ${to.major - from.major} major versions; upgrade one major at a time (releases: ${REDIS_RELEASES.join(', ')})`,
        };
      }
      return { ok: true };
    },
    allowDowngrade,
    releases: REDIS_RELEASES,
    notes(version) {
      return NOTES[`${version.major}.${version.minor}`] ?? [];
    },
  },
  prechecks: [
    { name: 'cluster-state-ok', description: 'every node reports cluster_state:ok in CLUSTER INFO' },
    {
      name: 'all-slots-covered',
      description: 'all 16384 hash slots are served by a primary that is not failing',
    },
    {
      name: 'every-primary-has-replica',
      description: 'every slot-owning primary has a replica on another member with its replication link up',
    },
    {
      name: 'replicas-in-sync',
      description:
        'every replica has master_link_status:up, no full sync in progress, and a small offset lag',
    },
    {
      name: 'all-members-up',
      description: 'every member is running, ready, answers, and is not flagged failing',
    },
  ],
  hooks: [],
  // Stopping a primary that still serves slots leaves them to an automatic failover after
  // cluster-node-timeout, which may drop writes the replica had not yet received.
  drainTimeoutProceedSafe: false,
  defaultPort: 6379,
  stepEstimatesMs: { precheck: 500, drain: 1000, replace: 2000, verify: 3000, soak: 0 },
};
