/**
 * Connection reuse for `@kubernetes/client-node` 1.4: its KubeConfig builds a NEW http(s).Agent
 * for every request, so every call opens a new TCP (and TLS) connection. The operator makes a few
 * requests per reconcile, all to one API server; this keeps one keep-alive agent per distinct
 * server and TLS material instead. Proxy agents are left to the library.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';

type CreateAgent = (cluster: Cluster | null, options: AgentOptions) => unknown;

const patched = new WeakSet<KubeConfig>();

/** Make `kc` reuse keep-alive agents (idempotent). Returns `kc`. */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  if (patched.has(kc)) return kc;
  const target = kc as unknown as { createAgent: CreateAgent };
  const original = target.createAgent;
  if (typeof original !== 'function') return kc;
  const agents = new Map<string, HttpAgent | HttpsAgent>();
  target.createAgent = function (cluster, options) {
    if (!cluster || cluster.proxyUrl) return original.call(this, cluster, options);
    const material = [
      options.ca,
      options.cert,
      options.key,
      options.pfx,
      options.servername,
      options.rejectUnauthorized,
    ]
      .map((x) => (x === undefined ? '' : String(x)))
      .join('\u0000');
    const key = `${cluster.server}\u0000${material}`;
    let agent = agents.get(key);
    if (!agent) {
      const http = cluster.server.startsWith('http:');
      // Same rule as the library: plain HTTP only when TLS verification is explicitly off.
      if (http && !cluster.skipTLSVerify) return original.call(this, cluster, options);
      agent = http
        ? new HttpAgent({ ...options, keepAlive: true })
        : new HttpsAgent({ ...options, keepAlive: true });
      agents.set(key, agent);
    }
    return agent;
  };
  patched.add(kc);
  return kc;
}
