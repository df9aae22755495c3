/**
 * TiDB's release catalog: every release Baton knows, with its date and, where Baton's authors read
 * the release notes, a one-line summary of its compatibility changes and deprecations. Gathered
 * from PingCAP's own pages (pingcap/docs `releases/release-timeline.md` and `release-notes.md`
 * for the dates, `releases/release-X.Y.Z.md` for the summaries). A plan lists every catalog
 * release an upgrade passes through with its link, as TiDB Operator's upgrade guide asks ("if you
 * upgrade from TiDB v6.4.0 to v6.5.2, you need to check the compatibility changes in v6.5.0, v6.5.1
 * and v6.5.2"). A release without a summary still gets its link; a target outside the catalog is
 * planned with a note saying so.
 *
 * Data only: extend it as PingCAP publishes releases (keep ascending order; the test checks it).
 */
import { compareVersions, parseVersion, type Version } from '../../core/version.js';

/** One release of the catalog. */
export interface CatalogRelease {
  /** `v6.5.2`. */
  version: string;
  /** Release date, `YYYY-MM-DD`. */
  date: string;
  /** Development Milestone Release (no patch releases). */
  dmr?: boolean;
  /** One line on its compatibility changes, from the release notes. */
  compatibility?: string;
  /** One line on what it deprecates, from the release notes. */
  deprecations?: string;
}

/** The catalog, ascending by version. */
export const TIDB_RELEASE_CATALOG: readonly CatalogRelease[] = [
  { version: 'v4.0.16', date: '2021-12-17' },
  { version: 'v5.0.0', date: '2021-04-07' },
  { version: 'v5.1.0', date: '2021-06-24' },
  { version: 'v5.2.0', date: '2021-08-27' },
  { version: 'v5.3.0', date: '2021-11-30' },
  {
    version: 'v5.3.1',
    date: '2022-03-03',
    compatibility:
      'tidb_analyze_version defaults to 1 again (was 2); TiKV with storage.enable-ttl = true rejects requests from TiDB (TTL is RawKV only)',
  },
  { version: 'v5.4.0', date: '2022-02-15' },
  { version: 'v6.0.0', date: '2022-04-07', dmr: true },
  { version: 'v6.1.0', date: '2022-06-13' },
  { version: 'v6.1.1', date: '2022-09-01' },
  { version: 'v6.1.2', date: '2022-10-24' },
  { version: 'v6.1.3', date: '2022-12-05' },
  { version: 'v6.1.4', date: '2023-02-08' },
  {
    version: 'v6.1.5',
    date: '2023-02-28',
    compatibility:
      'telemetry off by default (tidb_enable_telemetry OFF, TiDB and PD enable-telemetry false); TiUP from v1.11.3 keeps the state it had',
  },
  { version: 'v6.1.6', date: '2023-04-12' },
  { version: 'v6.1.7', date: '2023-07-12' },
  { version: 'v6.2.0', date: '2022-08-23', dmr: true },
  { version: 'v6.3.0', date: '2022-09-30', dmr: true },
  { version: 'v6.4.0', date: '2022-11-17', dmr: true },
  {
    version: 'v6.5.0',
    date: '2022-12-29',
    compatibility:
      'LTS after v6.1.0: the metadata lock (tidb_enable_metadata_lock) and faster ADD INDEX are on after an upgrade from an earlier version; global memory control (tidb_server_memory_limit) is GA',
    deprecations: 'read the deprecated features section of the notes',
  },
  {
    version: 'v6.5.1',
    date: '2023-03-10',
    compatibility:
      'telemetry off by default (tidb_enable_telemetry OFF); no column type change on partitioned tables; TiKV advance-ts-interval 1s -> 20s; TiKV cdc.min-ts-interval 200ms -> 1s',
  },
  {
    version: 'v6.5.2',
    date: '2023-04-21',
    compatibility:
      'TiCDC encodes FLOAT correctly in Avro (set the Confluent Schema Registry compatibility policy to None before upgrading TiCDC); TiCDC sink.enable-partition-separator defaults to true',
  },
  { version: 'v6.5.3', date: '2023-06-14' },
  {
    version: 'v6.5.4',
    date: '2023-08-28',
    compatibility:
      'cursor-fetch result sets spill to disk; TiKV periodic RocksDB compaction off again (new periodic-compaction-seconds, ttl); TiCDC splits UPDATEs of multi-change transactions into DELETE + INSERT, deletes first',
  },
  {
    version: 'v6.5.5',
    date: '2023-09-21',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v6.5.6',
    date: '2023-12-07',
    compatibility:
      'require_secure_transport cannot be ON under Security Enhanced Mode; new tidb_opt_enable_hash_join; TiCDC changefeed case-sensitive defaults to false',
  },
  { version: 'v6.5.7', date: '2024-01-08' },
  {
    version: 'v6.5.8',
    date: '2024-02-02',
    compatibility: 'new TiKV gc.num-threads (GC threads when enable-compaction-filter is false)',
  },
  {
    version: 'v6.5.9',
    date: '2024-04-12',
    compatibility:
      'new TiKV rocksdb track-and-verify-wals-in-manifest; DR Auto-Sync supports wait-recover-timeout',
  },
  {
    version: 'v6.5.10',
    date: '2024-06-20',
    compatibility:
      'TiCDC MySQL sinks split an UPDATE into DELETE + INSERT only when its commitTS is below thresholdTS; TiDB Lightning strict-format needs a line terminator',
  },
  {
    version: 'v6.5.11',
    date: '2024-09-20',
    compatibility:
      'TiKV server.grpc-compression-type now also compresses TiKV -> TiDB responses (more CPU when on)',
  },
  {
    version: 'v6.5.12',
    date: '2025-02-27',
    compatibility:
      'openEuler 22.03 LTS SP3/SP4 supported; the TiDB HTTP API returns at most 2048 DDL history jobs by default; new tidb_ddl_reorg_max_write_speed',
  },
  { version: 'v6.6.0', date: '2023-02-20', dmr: true },
  { version: 'v7.0.0', date: '2023-03-30', dmr: true },
  { version: 'v7.1.0', date: '2023-05-31' },
  {
    version: 'v7.1.1',
    date: '2023-07-24',
    compatibility:
      'new tidb_lock_unchanged_keys; TiCDC splits an UPDATE that changes the primary key or a non-null unique index into DELETE + INSERT',
  },
  {
    version: 'v7.1.2',
    date: '2023-10-25',
    compatibility:
      'smooth upgrade off by default (on with POST /upgrade/start, /upgrade/finish); require_secure_transport cannot be ON under SEM; new tidb_opt_enable_hash_join; TiKV periodic RocksDB compaction off again (new periodic-compaction-seconds, ttl); TiCDC sink.csv.binary-encoding-method (base64), large-message-handle-option; TiCDC splits UPDATEs of multi-change transactions, deletes first',
  },
  {
    version: 'v7.1.3',
    date: '2023-12-21',
    compatibility:
      'TiCDC changefeed case-sensitive defaults to false; new TiCDC changefeed items sql-mode, encoding-worker-num, flush-worker-num, compression, sink.cloud-storage-config',
  },
  {
    version: 'v7.1.4',
    date: '2024-03-11',
    compatibility: 'TiFlash logger.level defaults to info (was debug); new TiKV gc.num-threads',
  },
  {
    version: 'v7.1.5',
    date: '2024-04-26',
    compatibility: 'new TiKV rocksdb track-and-verify-wals-in-manifest',
  },
  {
    version: 'v7.1.6',
    date: '2024-11-21',
    compatibility:
      'the TiDB HTTP API returns at most 2048 DDL history jobs by default; TiCDC MySQL sinks split an UPDATE into DELETE + INSERT only when its commitTS is below thresholdTS; TiDB Lightning strict-format needs a line terminator; TiKV server.grpc-compression-type also compresses TiKV -> TiDB responses',
  },
  { version: 'v7.2.0', date: '2023-06-29', dmr: true },
  { version: 'v7.3.0', date: '2023-08-14', dmr: true },
  { version: 'v7.4.0', date: '2023-10-12', dmr: true },
  { version: 'v7.5.0', date: '2023-12-01' },
  {
    version: 'v7.5.1',
    date: '2024-02-29',
    compatibility:
      'require_secure_transport cannot be ON under Security Enhanced Mode; TiFlash logger.level defaults to info (was debug); new TiKV gc.num-threads; new TiCDC changefeed items compression, sink.cloud-storage-config, consistent.flush-concurrency',
  },
  {
    version: 'v7.5.2',
    date: '2024-06-13',
    compatibility:
      "new TiKV rocksdb track-and-verify-wals-in-manifest; TiDB Lightning strict-format and IMPORT INTO SPLIT_FILE need an explicit line terminator; new TiCDC sink.open.output-old-value; TiCDC MySQL sinks split an UPDATE into DELETE + INSERT only when its commitTS is below the table's thresholdTS",
  },
  {
    version: 'v7.5.3',
    date: '2024-08-05',
    compatibility:
      'new table INFORMATION_SCHEMA.KEYWORDS; TiKV server.grpc-compression-type now also compresses TiKV -> TiDB responses (more CPU when on)',
  },
  {
    version: 'v7.5.4',
    date: '2024-10-15',
    compatibility: 'the TiDB HTTP API returns at most 2048 DDL history jobs by default',
  },
  {
    version: 'v7.5.5',
    date: '2024-12-31',
    compatibility:
      'new tidb_ddl_reorg_max_write_speed (ingest speed of ADD INDEX); TiKV raft-client-queue-size default 8192 -> 16384',
  },
  {
    version: 'v7.5.6',
    date: '2025-03-14',
    compatibility: 'openEuler 22.03 LTS SP3/SP4 supported; no behaviour or default changed',
  },
  {
    version: 'v7.5.7',
    date: '2025-09-04',
    compatibility:
      'tidb_enable_historical_stats defaults to OFF; TiKV region-compact-* items deprecated for the new gc.auto-compaction group',
  },
  { version: 'v7.6.0', date: '2024-01-25', dmr: true },
  { version: 'v8.0.0', date: '2024-03-29', dmr: true },
  { version: 'v8.1.0', date: '2024-05-24' },
  {
    version: 'v8.1.1',
    date: '2024-08-27',
    compatibility:
      'TiDB Lightning strict-format and IMPORT INTO SPLIT_FILE need an explicit line terminator; tidb_enable_parallel_hashagg_spill defaults to OFF (clusters upgraded from v8.0.0/v8.1.0 keep ON: set it OFF); TiKV server.grpc-compression-type also compresses TiKV -> TiDB responses; arbiter removed from the toolkit package',
  },
  {
    version: 'v8.1.2',
    date: '2024-12-26',
    compatibility:
      'new TiKV server.snap-min-ingest-size (2MiB): smaller snapshots are written directly, not ingested',
  },
  { version: 'v8.2.0', date: '2024-07-11', dmr: true },
  { version: 'v8.3.0', date: '2024-08-22', dmr: true },
  { version: 'v8.4.0', date: '2024-11-11', dmr: true },
  // Date from PingCAP's community site (tidb.net); the release-notes page in the docs read here is a draft.
  { version: 'v8.5.0', date: '2024-12-19' },
  {
    version: 'v8.5.1',
    date: '2025-01-17',
    compatibility:
      'CentOS Linux 7 tested again (upgrade CentOS 7 clusters to v8.5.1 or later, not v8.5.0); tidb_stats_cache_mem_quota = 0 now means 20% of memory (was 50%)',
  },
  {
    version: 'v8.5.2',
    date: '2025-06-12',
    compatibility: 'none: improvements and bug fixes only',
  },
  {
    version: 'v8.5.3',
    date: '2025-08-14',
    compatibility:
      'new internal cost-model variables tidb_opt_*_cost_factor (do not change them); telemetry is back but only logs locally, nothing is sent',
  },
];

/** What a release without a summary says: the notes must be read (never that there is nothing). */
const NOT_SUMMARIZED = "not summarized in Baton's catalog, read them";

/** Link to a release's notes (`#compatibility-changes` or another section). */
export function releaseNotesUrl(version: Version, section?: string): string {
  const page = `https://docs.pingcap.com/tidb/stable/release-${version.major}.${version.minor}.${version.patch}`;
  return section ? `${page}#${section}` : page;
}

/** The catalog entry of `version`, if the catalog knows it. */
export function catalogRelease(version: Version | string): CatalogRelease | undefined {
  const v = typeof version === 'string' ? parseVersion(version) : version;
  return TIDB_RELEASE_CATALOG.find((r) => compareVersions(r.version, v) === 0);
}

/** First and last release the catalog knows. */
export function catalogRange(): { first: string; last: string } {
  return {
    first: TIDB_RELEASE_CATALOG[0]?.version ?? '',
    last:
      [...TIDB_RELEASE_CATALOG].sort((a, b) => compareVersions(a.version, b.version)).at(-1)?.version ?? '',
  };
}

/**
 * What a user must read when an upgrade passes through `version`: its compatibility changes (with
 * the summary when the catalog has one) and, for an `x.y.0` release, its deprecated features. For a
 * version the catalog does not know, one line saying so with the page to read.
 */
export function catalogNotes(version: Version): string[] {
  if (version.prerelease.length > 0) return [];
  const tag = `v${version.major}.${version.minor}.${version.patch}`;
  const entry = catalogRelease(version);
  if (!entry) {
    const { first, last } = catalogRange();
    return [
      `${tag} is not in Baton's TiDB release catalog (${first} .. ${last}): read its release notes yourself: ${releaseNotesUrl(version)}`,
    ];
  }
  const lines = [
    `${tag} (${entry.date}${entry.dmr ? ', DMR' : ''}) compatibility changes: ${entry.compatibility ?? NOT_SUMMARIZED}: ${releaseNotesUrl(version, 'compatibility-changes')}`,
  ];
  if (version.patch === 0) {
    lines.push(
      `${tag} deprecated features: ${entry.deprecations ?? NOT_SUMMARIZED}: ${releaseNotesUrl(version, 'deprecated-features')}`,
    );
  }
  return lines;
}
