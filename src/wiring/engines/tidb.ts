/**
 * TiDB: PD's HTTP API, the TiDB status and SQL ports, TiKV's status port and TiCDC's API through
 * the TidbEngine. On Kubernetes each member is reached at its pod DNS name with the component's
 * default port (PD 2379, TiKV 20180, TiDB 10080, TiCDC 8300); a Secret's credentials are the SQL
 * user for `ADMIN SHOW DDL JOBS`; a TidbCluster target's annotations are read before every
 * observation and action (`tidb.pingcap.com/force-upgrade`). There are no TiDB processes to run
 * locally.
 */
import { TidbEngine } from '../../engines/tidb/engine.js';
import type { EngineKit } from '../kit.js';

/** TiDB's kit. */
export const kit: EngineKit = {
  create: (credentials, context) => {
    const tc = context?.cluster?.kind === 'TidbCluster' ? context.cluster : undefined;
    return new TidbEngine({
      ...(credentials
        ? { credentials: { user: credentials.username ?? 'root', password: credentials.password } }
        : {}),
      ...(tc
        ? {
            clusterAnnotations: () => tc.annotations(),
            clusterName: tc.name,
            clusterNamespace: tc.namespace,
          }
        : {}),
    });
  },
};
