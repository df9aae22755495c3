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
  /** One line on what it deprecates, from the release notes (shown for `x.y.0` releases). */
  deprecations?: string;
  /**
   * The anchor of the notes' deprecation section when it is not `deprecated-features` (v6.5.0's
   * heading is "Deprecated feature", the anchor TiDB Operator's upgrade guide links to).
   */
  deprecationsAnchor?: string;
  /** The notes' page when it is not `release-X.Y.Z` (v6.0.0's is `release-6.0.0-dmr`). */
  notesPage?: string;
}

/** The catalog, ascending by version. */
export const TIDB_RELEASE_CATALOG: readonly CatalogRelease[] = [
  {
    version: 'v4.0.16',
    date: '2021-12-17',
    compatibility:
      'an illegal UTF-8 string converted to REAL uses its legal UTF-8 prefix (was an error); TiCDC Kafka sink max-message-bytes defaults to 1 MB and partition-num to 3',
  },
  {
    version: 'v5.0.0',
    date: '2021-04-07',
    compatibility:
      'tidb_dml_batch_size 20000 -> 0 and now GLOBAL (LOAD / INSERT INTO SELECT run as one large transaction: set it back after the upgrade if you relied on it); tidb_enable_clustered_index defaults to INT_ONLY; TiKV raftstore.sync-log removed (always synced), gc.enable-compaction-filter and enable-cross-table-merge default to true; PD enable-joint-consensus defaults to true; a non-zero TiDB feedback-probability logs a panic after the upgrade; no VARCHAR <-> CHAR column type change',
    deprecations:
      'no deprecated-features section; its compatibility changes: the tidb_*_concurrency variables still work but warn (use tidb_executor_concurrency); pessimistic-txn.enable, performance.max-memory, tikv-client.copr-cache.enable and rocksdb.auto-tuned replaced (tidb_txn_mode, server-memory-quota, copr-cache.capacity-mb, rate-limiter-auto-tuned); raftstore.sync-log removed',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v5.0.1',
    date: '2021-04-24',
    compatibility: 'TiDB committer-concurrency 16 -> 128',
  },
  {
    version: 'v5.0.2',
    date: '2021-06-10',
    compatibility:
      'TiCDC cdc cli changefeed --sort-dir deprecated (set --sort-dir on cdc server); TiKV Hibernate Region on by default',
  },
  {
    version: 'v5.0.3',
    date: '2021-07-02',
    compatibility:
      'tidb_multi_statement_mode defaults to OFF (was WARN) in a cluster upgraded from v4.0; innodb_default_row_format accepted as a no-op variable',
  },
  {
    version: 'v5.0.4',
    date: '2021-09-27',
    compatibility:
      'SHOW VARIABLES fix reverts part of #19341 (may change behaviour); tidb_stmt_summary_max_stmt_count 200 -> 3000; bug fixes that change query results (UNION with NULL children, greatest(datetime) UNION NULL, last_day in SQL mode and others listed)',
  },
  {
    version: 'v5.0.5',
    date: '2021-12-03',
    compatibility: 'none listed in its notes: one TiKV bug fix only',
  },
  {
    version: 'v5.0.6',
    date: '2021-12-31',
    compatibility:
      'TiCDC: cdc server errors go to stderr (was stdout), Kafka sink max-message-bytes defaults to 10M and partition-num to 3',
  },
  {
    version: 'v5.1.0',
    date: '2021-06-24',
    compatibility:
      'remove TiFlash replicas of system tables before upgrading (the upgrade fails otherwise); no MODIFY/CHANGE COLUMN and, with TiDB Binlog, no clustered-index table created during the rolling upgrade; a non-zero feedback-probability logs a panic; committer-concurrency 16 -> 128; TiKV hibernate-regions defaults to true, soft-pending-compaction-bytes-limit 64GB -> 192GB; tidb_analyze_version defaults to 2; TiCDC cdc cli changefeed --sort-dir deprecated',
    deprecations: 'TiCDC cdc cli changefeed --sort-dir (set --sort-dir on cdc server)',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v5.1.1',
    date: '2021-07-30',
    compatibility:
      'tidb_multi_statement_mode defaults to OFF in a cluster upgraded from v4.0; tidb_stmt_summary_max_stmt_count 200 -> 3000; information_schema tables need privileges (table_storage_stats SUPER, user_privileges SELECT on mysql.user for other users, cluster_hardware and cluster_config CONFIG, cluster_info, cluster_load, cluster_systeminfo and cluster_log PROCESS)',
  },
  {
    version: 'v5.1.2',
    date: '2021-09-27',
    compatibility:
      'bug fixes that change query results (greatest(datetime) UNION NULL, HAVING, BETWEEN across collations, group_concat with a non-bin collation, multi-column count(distinct) with new collation, extract on a negative duration; invalid dates now error under STRICT_TRANS_TABLES and NO_ZERO_IN_DATE); TiCDC compatible version 5.2.0-alpha',
  },
  {
    version: 'v5.1.3',
    date: '2021-12-03',
    compatibility: 'none listed in its notes: one TiKV bug fix only',
  },
  {
    version: 'v5.1.4',
    date: '2022-02-22',
    compatibility:
      'tidb_analyze_version defaults to 1 again (was 2); TiKV with storage.enable-ttl = true rejects requests from TiDB (TTL is RawKV only); TiCDC max-message-bytes defaults to 10M',
  },
  {
    version: 'v5.1.5',
    date: '2022-12-28',
    compatibility: 'PD no longer compiles the swagger server by default',
  },
  {
    version: 'v5.2.0',
    date: '2021-08-27',
    compatibility:
      'set tidb_evolve_plan_baselines OFF before upgrading (the upgrade fails otherwise); from v4.0, tidb_multi_statement_mode defaults to OFF (was WARN); a non-zero feedback-probability logs a panic; TiKV flow control replaces the RocksDB write stall, raftstore.max-peer-down-duration 5m -> 10m; stmt-summary max-stmt-count 200 -> 3000; the notes warn of known defects: use the latest v5.2.x',
    deprecations: 'tidb_enable_streaming; TiDB experimental.allow-expression-index',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v5.2.1',
    date: '2021-09-09',
    compatibility: 'none listed in its notes: two bug fixes only',
  },
  {
    version: 'v5.2.2',
    date: '2021-10-29',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v5.2.3',
    date: '2021-12-03',
    compatibility: 'none listed in its notes: one TiKV bug fix only',
  },
  {
    version: 'v5.2.4',
    date: '2022-04-26',
    compatibility:
      'tidb_analyze_version defaults to 1 again (was 2); TiKV raft-log-gc-tick-interval 10s -> 3s, new raft-log-compact-sync-interval (2s), flow-control hard-pending-compaction-bytes-limit overrides the rocksdb CF one when flow control is on; TiDB Lightning regionMaxKeyCount 1,440,000 -> 1,280,000',
  },
  {
    version: 'v5.3.0',
    date: '2021-11-30',
    compatibility:
      'an invalid system variable value is accepted with a warning (was an error); SHOW CREATE VIEW needs SHOW VIEW; GRANT ALL ON performance_schema.* refused; prepared-plan-cache.capacity 100 -> 1000; PD max-snapshot-count 3 -> 64, max-pending-peer-count 16 -> 64, patrol-region-interval 100ms -> 10ms; TiKV raftstore.raft-reject-transfer-leader-duration removed; DM versions follow TiDB (v2.0.x -> v5.3.0); global temporary tables break a downgrade',
    deprecations:
      'no deprecated-features section; its compatibility changes: TiKV raftstore.raft-reject-transfer-leader-duration deleted; sql_auto_is_null becomes a noop variable (setting it errors unless tidb_enable_noop_functions); GRANT ALL ON performance_schema.* refused',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v5.3.1',
    date: '2022-03-03',
    compatibility:
      'tidb_analyze_version defaults to 1 again (was 2); TiKV with storage.enable-ttl = true rejects requests from TiDB (TTL is RawKV only)',
  },
  {
    version: 'v5.3.2',
    date: '2022-06-29',
    compatibility:
      'REPLACE no longer changes other rows when the auto ID is out of range; PD no longer compiles the swagger server by default; the notes advise against v5.3.2 (TiKV #12934, fixed in v5.3.3)',
  },
  {
    version: 'v5.3.3',
    date: '2022-09-14',
    compatibility:
      'none listed in its notes: the fix for TiKV #12934 (SQL errors after a PD leader change in v5.3.2) only',
  },
  {
    version: 'v5.3.4',
    date: '2022-11-24',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v5.4.0',
    date: '2022-02-15',
    compatibility:
      'tidb_enable_index_merge ON for new clusters (kept when upgrading from v4.0 or later, OFF from earlier); tidb_backoff_lock_fast 100 -> 10; tidb_store_limit GLOBAL only; TiKV log settings renamed log.level, log.format, log.file.* (old names still read), log-rotation-timespan, allow-remove-leader and raft-msg-flush-interval removed, backup.enable-auto-tune defaults to true; TiCDC Kafka partition-num 4 -> 3, max-message-bytes 10MB',
    deprecations:
      'no deprecated-features section; its compatibility changes: cdclog and cdclog-based PITR removed; TiKV log-rotation-timespan, allow-remove-leader and raft-msg-flush-interval deleted; TiKV log-level, log-format, log-file and log-rotation-size replaced by log.* (old names still read); tidb_store_limit global only; lc_time_names read-only',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v5.4.1',
    date: '2022-05-13',
    compatibility:
      'none in product design, but the notes warn that some bug fixes might change behaviour: read its bug fixes',
  },
  {
    version: 'v5.4.2',
    date: '2022-07-08',
    compatibility:
      'none listed in its notes; PD no longer compiles the swagger server by default; the notes advise against v5.4.2 (TiKV #12934, fixed in v5.4.3)',
  },
  {
    version: 'v5.4.3',
    date: '2022-10-13',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v6.0.0',
    date: '2022-04-07',
    dmr: true,
    notesPage: 'release-6.0.0-dmr',
    compatibility:
      'TiDB stmt-summary.* configuration items removed (use the system variables); per-operator tidb_mem_quota_* variables removed (tidb_mem_quota_query); new collations on by default for new clusters only; mutation checker and transaction assertions on for new clusters only; TiKV rocksdb.enable-pipelined-write defaults to false (Pipelined Commit); TiFlash storage.format_version 2 -> 3 (no in-place downgrade below v5.4), dt_enable_logical_split false; placement policies lose direct placement and VOTERS options, information_schema.placement_rules renamed placement_policies',
    deprecations:
      'no deprecated-features section; its compatibility changes: placement_checks and tidb_enable_alter_placement deleted (tidb_placement_mode), the tidb_mem_quota_* operator variables removed (tidb_mem_quota_query), TiDB stmt-summary.* configuration removed (system variables), direct placement options and VOTERS / VOTER_CONSTRAINTS removed, SPM binding status using replaced by enabled, DM full import uses TiDB Lightning instead of Loader (loaders.import-mode)',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v6.1.0',
    date: '2022-06-13',
    compatibility:
      'TiDB configuration items become system variables (e.g. prepared-plan-cache.enabled, query-log-max-len, require-secure-transport, run-auto-analyze: their values are copied once during the upgrade, the items are ignored after); TiKV raft-engine.enable defaults to true, region-max-size/keys follow region-split-size/keys; new clusters cache prepared plans by default; TiCDC changefeeds using Avro or dispatchers.topic/partition cannot go back below v6.1.0',
    deprecations: 'none: its notes have no deprecated-features section',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v6.1.1',
    date: '2022-09-01',
    compatibility:
      'SHOW DATABASES LIKE is case-insensitive; tidb_enable_outer_join_reorder defaults to 0 (was 1); continuous profiling off by default (it could crash TiFlash)',
  },
  {
    version: 'v6.1.2',
    date: '2022-10-24',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v6.1.3',
    date: '2022-12-05',
    compatibility: 'TiCDC transaction-atomicity defaults to none (was table): large transactions are split',
  },
  {
    version: 'v6.1.4',
    date: '2023-02-08',
    compatibility: 'modifying a column type of a partitioned table is blocked, even if queued before',
  },
  {
    version: 'v6.1.5',
    date: '2023-02-28',
    compatibility:
      'telemetry off by default (tidb_enable_telemetry OFF, TiDB and PD enable-telemetry false); TiUP from v1.11.3 keeps the state it had',
  },
  {
    version: 'v6.1.6',
    date: '2023-04-12',
    compatibility:
      'TiCDC encodes FLOAT correctly in Avro: set the Confluent Schema Registry compatibility policy to None before upgrading TiCDC, or the changefeed fails to update the schema',
  },
  {
    version: 'v6.1.7',
    date: '2023-07-12',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v6.2.0',
    date: '2022-08-23',
    dmr: true,
    compatibility:
      'TiKV must not be older than v6.2.0 once TiDB runs v6.2.0 or later (TiKV goes first, as Baton rolls it); TiFlash storage.format_version defaults to 4 (no downgrade to 3), keep dt_enable_logical_split false; tidb_enable_outer_join_reorder defaults to OFF; one ALTER TABLE may change several columns or indexes (tidb_enable_change_multi_schema removed); TiDB feedback-probability and query-feedback-limit, TiKV rocksdb.enable-pipelined-commit and gc-merge-rewrite, PD dr-auto-sync wait-async/wait-sync-timeout removed',
    deprecations: 'RawKV backup and restore with BR',
  },
  {
    version: 'v6.3.0',
    date: '2022-09-30',
    dmr: true,
    compatibility:
      'tidb_partition_prune_mode defaults to dynamic; tidb_enable_pseudo_for_outdated_stats and tidb_enable_rate_limit_action default to OFF; FastScan moves to tiflash_fastscan (v6.2.0 FastScan settings are dropped); TiFlash needs AVX2 on amd64 (ARMv8 on arm64); TiKV log-backup.enable defaults to true; HAProxy v1.5 or later; TiCDC Pulsar sink removed',
    deprecations: 'TiCDC memory sort (sink-uri memory); TiFlash dt_enable_read_thread',
  },
  {
    version: 'v6.4.0',
    date: '2022-11-17',
    dmr: true,
    compatibility:
      'TiDB memory-usage-alarm-ratio no longer read (use tidb_memory_usage_alarm_ratio, default 0.8 -> 0.7); tidb_stats_load_sync_wait 0 -> 100 ms and tidb_stats_load_pseudo_timeout ON; TiCDC transaction-atomicity defaults to none; mysql.user gains two columns (BR restoring the mysql schema of an older backup reports column count mismatch); TiCDC Syncpoint needs SYSTEM_VARIABLES_ADMIN or SUPER',
    deprecations: 'none: its notes have no deprecated-features section',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v6.5.0',
    date: '2022-12-29',
    compatibility:
      'LTS after v6.1.0: the metadata lock (tidb_enable_metadata_lock) and faster ADD INDEX are on after an upgrade from an earlier version; global memory control (tidb_server_memory_limit) is GA',
    deprecations:
      'the AMEND TRANSACTION mechanism (v4.0.7), replaced by the metadata lock; TiDB server-memory-quota, replaced by tidb_server_memory_limit',
    deprecationsAnchor: 'deprecated-feature',
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
  {
    version: 'v6.5.3',
    date: '2023-06-14',
    compatibility:
      'TiCDC splits an UPDATE event that changes the primary key or a non-null unique index value into DELETE + INSERT',
  },
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
  {
    version: 'v6.5.7',
    date: '2024-01-08',
    compatibility:
      'new TiDB performance.force-init-stats (wait for statistics initialization before serving at startup); TiFlash logger.level defaults to info (was debug)',
  },
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
  {
    version: 'v6.6.0',
    date: '2023-02-20',
    dmr: true,
    compatibility:
      'AMEND TRANSACTION (tidb_enable_amend_pessimistic_txn) and the old DDL framework (tidb_enable_concurrent_ddl) removed; foreign_key_checks, tidb_enable_foreign_key and tidb_enable_historical_stats default to ON; telemetry off by default in TiDB and PD; tidb_store_batch_size 0 -> 4; TiKV block cache always shared (storage.block-cache.shared removed), block-size 64K -> 32K; TiFlash max_memory_usage_for_all_queries 0 -> 0.8; general plan cache variables renamed to non-prepared plan cache',
    deprecations: 'TiKV rocksdb.{defaultcf,writecf,lockcf}.block-cache-size',
  },
  {
    version: 'v7.0.0',
    date: '2023-03-30',
    dmr: true,
    compatibility:
      'TiCDC encodes FLOAT correctly in Avro (set the Confluent Schema Registry compatibility policy to None before upgrading TiCDC); tidb_dml_batch_size no longer applies to LOAD DATA; resource control on by default (tidb_enable_resource_control, TiKV resource-control.enabled); tidb_enable_null_aware_anti_join ON; TiKV resolved-ts.advance-ts-interval 1s -> 20s, raft-engine.enable-log-recycle true, snap-max-write-bytes-per-sec renamed snap-io-max-bytes-per-sec; an auto-increment column no longer needs an index',
    deprecations: 'none: its notes have no deprecated-features section',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v7.1.0',
    date: '2023-05-31',
    compatibility:
      'avoid FLASHBACK CLUSTER TO TIMESTAMP on v7.1.0 (Regions can stay in flashback, #44292); TiDB Lightning pauses scheduling only for the target tables (pause-pd-scheduler-scope; set "global" for targets below v6.1.0); tidb_ddl_distribute_reorg renamed tidb_enable_dist_task; tidb_opt_enable_late_materialization defaults to ON; tidb_load_based_replica_read_threshold 0s -> 1s; tidb_enable_tiflash_read_for_write_stmt defaults to ON',
    deprecations:
      'tidb_prepared_plan_cache_size and tidb_non_prepared_plan_cache_size, replaced by tidb_session_plan_cache_size',
  },
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
  {
    version: 'v7.2.0',
    date: '2023-06-29',
    dmr: true,
    compatibility:
      'TiDB lite-init-stats and force-init-stats default to true (a starting TiDB serves once statistics are initialized); tidb_enable_non_prepared_plan_cache and tidb_remove_orderby_in_subquery default to ON; LAST_INSERT_ID() returns LONGLONG, last_insert_id up to 18446744073709551615; TiKV compaction-guard-min-output-file-size 8MB -> 1MB',
    deprecations: 'TiDB Lightning send-kv-pairs (use send-kv-size)',
  },
  {
    version: 'v7.3.0',
    date: '2023-08-14',
    dmr: true,
    compatibility:
      'BR refuses a full restore into a non-empty cluster; TiDB Lightning tikv-importer.incremental-import renamed parallel-import, max-error no longer limits conflicts (conflict.threshold does); TiCDC refuses Avro with force-replicate, Open Protocol UPDATE events carry changed columns only; TiKV region-bucket-size 96MiB -> 50MiB, compaction-guard-min-output-file-size 1MB -> 8MB, write-buffer-limit (raft-kv) no longer 25% of memory',
    deprecations:
      'TiDB Lightning tikv-importer.on-duplicate (use conflict.strategy); Fast Analyze and incremental statistics collection announced for deprecation in v7.5.0',
  },
  {
    version: 'v7.4.0',
    date: '2023-10-12',
    dmr: true,
    compatibility:
      'version() reports 8.0.11-TiDB-... (MySQL 8.0 compatible); TiFlash upgraded to v7.4.0 cannot be downgraded in place (PageStorage V3 file names), storage.format_version 4 -> 5; tidb_enable_non_prepared_plan_cache back to OFF; TiDB enable-stats-cache-mem-quota defaults to true; tidb_enable_tiflash_pipeline_model removed',
    deprecations: 'none: its notes have no deprecated-features section',
    deprecationsAnchor: 'compatibility-changes',
  },
  {
    version: 'v7.5.0',
    date: '2023-12-01',
    compatibility:
      'tidb_analyze_partition_concurrency 1 -> 2, tidb_build_stats_concurrency 4 -> 2; TiCDC case-sensitive defaults to false; TiDB Lightning --importer removed; new tikv-client.copr-req-timeout; Mydumper, TiKV-importer and Spark/TiSpark removed from the toolkit package',
    deprecations:
      'Mydumper and TiKV-importer; TiDB Binlog replication no longer supported (use TiCDC, PITR); Fast Analyze (tidb_enable_fast_analyze) and incremental statistics collection',
  },
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
  // From PingCAP's Japanese translation of its notes ("リリース日: 2026年9月17日").
  {
    version: 'v7.5.8',
    date: '2026-09-17',
    compatibility: 'none listed in its notes: improvements and bug fixes only',
  },
  {
    version: 'v7.6.0',
    date: '2024-01-25',
    dmr: true,
    compatibility:
      'LOAD DATA inside a transaction no longer commits it (MySQL behaviour, follows the transaction mode); TiDB accepts TLS 1.2 or later by default; Titan on by default for new clusters only (upgraded clusters keep their setting), blob-file-compression zstd; tidb_auto_analyze_partition_batch_size 1 -> 128; TiFlash logger.level defaults to INFO',
    deprecations:
      'TLSv1.0 and TLSv1.1 (removed in v8.0.0); plan baseline evolution and tidb_disable_txn_auto_retry announced for v8.0.0',
  },
  // Compared with the published notes ("Release date: March 29, 2024").
  {
    version: 'v8.0.0',
    date: '2024-03-29',
    dmr: true,
    compatibility:
      'require_secure_transport cannot be ON under Security Enhanced Mode; DM uses a customizable secret key (re-encrypt stored passwords on upgrade); ADD INDEX ingest concurrency follows tidb_ddl_reorg_worker_cnt (default 4, was a fixed 16); TiDB tls-version accepts only TLSv1.2 and TLSv1.3; TiKV raftstore.store-io-pool-size 0 -> 1; tidb_ddl_version renamed tidb_enable_fast_create_table; PD witness-related schedulers removed',
    deprecations:
      'tidb_disable_txn_auto_retry (optimistic transactions are no longer retried automatically); TLSv1.0 and TLSv1.1; TiDB Lightning duplicate-resolution (replaced by conflict.strategy); plan binding auto-evolution to be redesigned',
  },
  {
    version: 'v8.1.0',
    date: '2024-05-24',
    compatibility:
      'tidb_enable_dist_task defaults to ON (disable the DXF before upgrading a cluster that has it on, then re-enable it); AUTO_ID_CACHE=1 tables no longer forceRebase on TiDB exit (IDs may skip on failover); TiCDC MySQL sinks split an UPDATE into DELETE + INSERT only when its commitTS is below thresholdTS; tidb_auto_analyze_ratio range (0, 1]; TiDB Lightning conflict.threshold defaults to 10000 and tidb.tls distinguishes false, "", skip-verify and preferred',
    deprecations:
      'plan binding auto-evolution to be redesigned; TiDB Lightning conflict.max-record-rows (to be replaced by conflict.threshold) and duplicate-resolution (to be removed)',
  },
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
  // Read from copies of its notes that still carry writers' markers ("Release date: xx xx, 2024"):
  // no published copy was found to compare them with.
  {
    version: 'v8.2.0',
    date: '2024-07-11',
    dmr: true,
    compatibility:
      'TiDB Lightning strict-format and IMPORT INTO SPLIT_FILE need an explicit line terminator; BR may restore into a cluster with TiCDC changefeeds when the backup is older than their checkpoint; tidb_enable_historical_stats defaults to OFF; ANALYZE skips mediumtext and longtext columns by default; TiDB stats-load-concurrency 5 -> 0 (automatic), token-limit at most 1048576; TiKV server.grpc-compression-type also compresses TiKV -> TiDB responses',
    deprecations:
      'TiDB enable-replica-selector-v2 (the new selector is always used); BR snapshot restore --concurrency (use --tikv-max-restore-concurrency) and --granularity',
  },
  {
    version: 'v8.3.0',
    date: '2024-08-22',
    dmr: true,
    compatibility:
      'pd-ctl no longer matches command prefixes (store remove is not store remove-tombstone); tidb_enable_column_tracking and tidb_opt_projection_push_down default to ON; tidb_schema_cache_size is 0 or at least 512 MiB; tidb_ddl_reorg_batch_size and tidb_ddl_reorg_worker_cnt gain SESSION scope',
    deprecations:
      'TiDB Binlog fully deprecated (removal planned: move to TiCDC and PITR); tidb_enable_column_tracking (predicate columns are always tracked)',
  },
  {
    version: 'v8.4.0',
    date: '2024-11-11',
    dmr: true,
    compatibility:
      'TiDB Binlog removed (log_bin, sql_log_bin, --enable-binlog gone; switch to TiCDC and PITR before upgrading); CentOS 7 and RHEL 7 not supported (upgrading such a cluster makes it unavailable); TiFlash storage.format_version 5 -> 7 (no in-place downgrade); TiKV region-split-size 96MiB -> 256MiB, region-split-keys 960000 -> 2560000, sst-max-size 144MiB -> 384MiB; PD max-merge-region-size/keys 20/200000 -> 54/540000; tidb_schema_cache_size defaults to 512 MiB; tidb_opt_prefer_range_scan and tidb_enable_inl_join_inner_multi_pattern default to ON',
    deprecations:
      'tidb_enable_global_index, tidb_enable_list_partition, tidb_enable_table_partition (fixed ON); TiDB Lightning duplicate-resolution to be removed',
  },
  // Date from PingCAP's community site (tidb.net); the release-notes page in the docs read here is a draft.
  {
    version: 'v8.5.0',
    date: '2024-12-19',
    compatibility:
      "non-strict mode (sql_mode = '') now errors on NULL into a NOT NULL column; ALTER TABLE ... DROP FOREIGN KEY IF EXISTS no longer supported; tidb_enable_fast_create_table defaults to ON; TiDB deprecate-integer-display-length defaults to true; TiKV raft-client-queue-size 8192 -> 16384; BR --checksum defaults to false; CentOS 7 not supported (upgrade CentOS 7 clusters to v8.5.1 or later)",
    deprecations:
      'tidb_enable_auto_analyze_priority_queue, tidb_enable_async_merge_global_stats, tidb_enable_parallel_hashagg_spill and static partition pruning (tidb_partition_prune_mode static warns); plan binding auto-evolution to be redesigned; TiDB Lightning conflict.max-record-rows',
  },
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
  {
    version: 'v8.5.4',
    date: '2025-11-27',
    compatibility:
      'tidb_mpp_store_fail_ttl 60s -> 0s; tidb_replica_read applies to read-only statements only; TiKV rocksdb.max-manifest-file-size 128MiB -> 256MiB, server.grpc-raft-conn-num and grpc-concurrency scale with CPU cores; TiKV region-compact-* items deprecated for the gc.auto-compaction group; DECIMAL inserts truncate extra fractional digits as MySQL does',
  },
  // Published notes ("Release date: January 15, 2026"). v8.5.8 (pingcap/tidb release tag of
  // 2026-08-27) is not in the catalog: no copy of its notes was found.
  {
    version: 'v8.5.5',
    date: '2026-01-15',
    compatibility:
      'restored tables are in restore mode (no reads or writes) until the restore ends; BR --load-stats=false no longer writes mysql.stats_meta; tidb_analyze_column_options PREDICATE -> ALL; new AFFINITY table option and SHOW AFFINITY; TiKV level0-slowdown-writes-trigger and soft-pending-compaction-bytes-limit overridden by flow control only when larger, new server.graceful-shutdown-timeout 20s (leaders move off before a stop); BR v8.5.5 PITR onto earlier clusters may fail: use the BR of the cluster version',
  },
  // Published notes ("Release date: April 14, 2026").
  {
    version: 'v8.5.6',
    date: '2026-04-14',
    compatibility:
      'column-level privileges (GRANT / REVOKE on columns); FOR UPDATE OF accepts table aliases (the base table name then warns); tidb_ignore_inlist_plan_digest OFF -> ON; tidb_service_scope case-insensitive; statistics Version 1 (tidb_analyze_version = 1) deprecated; mysql.tidb gains cluster_id; Dumpling and DM support MySQL 8.4',
  },
  // From PingCAP's Japanese translation of its notes ("リリース日: 2026年7月9日").
  {
    version: 'v8.5.7',
    date: '2026-07-09',
    compatibility:
      'TiKV rejects invalid max_ts updates (storage.max-ts.action-on-invalid-update = log keeps the old logging only); optimizer fix control 52869 on by default (IndexMerge considered: some plans change); INSERT of NULL into a NOT NULL column checked strictly (tidb_enable_strict_not_null_check = OFF for the old behaviour); tidb_auto_analyze_concurrency 1 -> 3, tidb_auto_build_stats_concurrency 1 -> 2, tidb_sysproc_scan_concurrency 1 -> 4 on new clusters only; telemetry deprecated; TiDB Lightning web interface removed',
  },
];

/** What a release without a summary says: the notes must be read (never that there is nothing). */
const NOT_SUMMARIZED = "not summarized in Baton's catalog, read them";

/** Link to a release's notes (`#compatibility-changes` or another section). */
export function releaseNotesUrl(version: Version, section?: string): string {
  const name =
    catalogRelease(version)?.notesPage ?? `release-${version.major}.${version.minor}.${version.patch}`;
  const page = `https://docs.pingcap.com/tidb/stable/${name}`;
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
      `${tag} deprecated features: ${entry.deprecations ?? NOT_SUMMARIZED}: ${releaseNotesUrl(version, entry.deprecationsAnchor ?? 'deprecated-features')}`,
    );
  }
  return lines;
}
