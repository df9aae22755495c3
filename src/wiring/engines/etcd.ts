/** etcd: the v3 API through etcd3 (root when a Secret gives no username), run locally by etcd-server. */
import { EtcdEngine } from '../../engines/etcd/engine.js';
import type { EngineKit } from '../kit.js';
import { etcdLocalAdapter } from '../local/etcd.js';

/** etcd's user when the credentials have no username (etcd's built-in administrator). */
export const DEFAULT_ETCD_USER = 'root';

/** etcd's kit. */
export const kit: EngineKit = {
  create: (credentials) =>
    new EtcdEngine(
      credentials
        ? { auth: { username: credentials.username ?? DEFAULT_ETCD_USER, password: credentials.password } }
        : {},
    ),
  local: etcdLocalAdapter,
};
