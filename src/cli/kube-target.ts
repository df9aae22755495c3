/**
 * The Kubernetes target of the CLI: a kubeconfig (`--kubeconfig`, `KUBECONFIG`, in-cluster, or
 * `~/.kube/config`, then `--context`), a namespace (`-n`, else the context's, else `default`), the
 * journal of `Upgrade` resources in that namespace, and a {@link KubernetesPlatform} for either the
 * StatefulSets named with `--statefulset`, the cluster object named with `--cluster-ref`, or the
 * nodes `--engine kubernetes-nodes` and its flags describe (apply, plan, check; a nodes target gets
 * the node platform and engine of wiring/nodes.ts), or the upgrade named with `--name` (or the
 * only open one) for the other verbs.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { BadInputError } from '../core/errors.js';
import type { Engine } from '../core/ports.js';
import { isTerminal, type Phase } from '../core/types.js';
import { API_VERSION, KIND, type UpgradeResource } from '../api/upgrade.js';
import { engineForUpgrade, withEngineStages } from '../wiring/kubernetes.js';
import { contextNamespace, loadKubeConfig } from '../platforms/kubernetes/kubeconfig.js';
import { KubeEventRecorder } from '../platforms/kubernetes/events.js';
import {
  UpgradeResourceJournal,
  defaultClusterName,
  type UpgradeTarget,
} from '../platforms/kubernetes/journal.js';
import { KubernetesPlatform } from '../platforms/kubernetes/statefulset.js';
import type { CliIO } from '../wiring/io.js';
import type { Target } from '../wiring/targets.js';
import { nodesTarget } from '../wiring/nodes.js';
import { KUBERNETES_NODES_ENGINE } from '../api/nodes.js';
import { nodesTargetFromFlags, type NodesFlags } from './nodes-flags.js';
import { engineRegistry } from '../engines/registry.js';

/** The flags this target reads (raw, as commander gives them). */
export interface KubeTargetFlags extends NodesFlags {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  statefulset?: string[];
  clusterRef?: string;
  clusterApiVersion?: string;
  endpoint?: string[];
  credentialsSecret?: string;
  engine?: string;
  name?: string;
  to?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `--statefulset NAME` or `--statefulset COMPONENT=NAME` (repeatable) as a resource target.
 * Undefined when none is given.
 */
export function parseStatefulSetFlags(values: string[] | undefined): UpgradeTarget | undefined {
  if (!values || values.length === 0) return undefined;
  const refs = values.map((v) => {
    const eq = v.indexOf('=');
    const component = eq >= 0 ? v.slice(0, eq) : undefined;
    const name = eq >= 0 ? v.slice(eq + 1) : v;
    if (!DNS_LABEL.test(name) || name.length > 63) {
      throw new BadInputError(
        'bad-statefulset',
        `--statefulset ${v}: "${name}" is not a StatefulSet name; use NAME or COMPONENT=NAME (lower-case letters, digits, '-')`,
      );
    }
    if (component !== undefined && !component) {
      throw new BadInputError(
        'bad-statefulset',
        `--statefulset ${v}: empty component name; use COMPONENT=NAME`,
      );
    }
    return { name, ...(component ? { component } : {}) };
  });
  const names = refs.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new BadInputError('bad-statefulset', `--statefulset ${dup} is given twice: name each once`);
  if (refs.length === 1 && !refs[0]!.component) return { statefulSet: refs[0]!.name };
  return { statefulSets: refs };
}

const KIND_NAME = /^([A-Z][A-Za-z0-9]*)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;
const API_VERSION_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/v[0-9][a-z0-9]*$/;

/**
 * `--cluster-ref KIND/NAME` (with `--cluster-api-version GROUP/VERSION` for kinds Baton does not
 * know) as a cluster-reference target (`spec.target.cluster`); undefined when not given.
 */
export function parseClusterRefFlag(
  value: string | undefined,
  apiVersion: string | undefined,
): UpgradeTarget | undefined {
  if (value === undefined) {
    if (apiVersion !== undefined) {
      throw new BadInputError(
        'bad-cluster-ref',
        '--cluster-api-version needs --cluster-ref KIND/NAME (e.g. --cluster-ref TidbCluster/basic)',
      );
    }
    return undefined;
  }
  const m = KIND_NAME.exec(value);
  if (!m) {
    throw new BadInputError(
      'bad-cluster-ref',
      `--cluster-ref ${value}: use KIND/NAME with the kind as the resource spells it, e.g. --cluster-ref TidbCluster/basic`,
    );
  }
  if (apiVersion !== undefined && !API_VERSION_RE.test(apiVersion)) {
    throw new BadInputError(
      'bad-cluster-ref',
      `--cluster-api-version ${apiVersion}: use GROUP/VERSION, e.g. pingcap.com/v1alpha1`,
    );
  }
  return { cluster: { kind: m[1]!, name: m[2]!, ...(apiVersion ? { apiVersion } : {}) } };
}

const HOST_PORT = /^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;
/** Several named addresses for engines with more than one port: `sql=HOST:PORT,http=HOST:PORT`. */
const NAMED_HOST_PORTS = /^[a-z]+=[^\s:/,=]+:\d{1,5}(,[a-z]+=[^\s:/,=]+:\d{1,5})+$/;

/**
 * `--endpoint POD=HOST:PORT` (repeatable) as endpoints by pod name; undefined when none is given.
 * An engine with several ports takes them named, `POD=sql=HOST:PORT,http=HOST:PORT` (CockroachDB).
 * They serve this command only and are never written into the Upgrade resource: an endpoint that
 * works from a laptop (a port-forward) would mislead the operator in the cluster.
 */
export function parseEndpointFlags(values: string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const pod = eq > 0 ? v.slice(0, eq) : '';
    const endpoint = eq > 0 ? v.slice(eq + 1) : '';
    if (!DNS_LABEL.test(pod) || !(HOST_PORT.test(endpoint) || NAMED_HOST_PORTS.test(endpoint))) {
      throw new BadInputError(
        'bad-endpoint',
        `--endpoint ${v}: use POD=HOST:PORT, e.g. --endpoint etcd-0=127.0.0.1:23790 (or POD=sql=HOST:PORT,http=HOST:PORT for an engine with several ports)`,
      );
    }
    if (out[pod] !== undefined) {
      throw new BadInputError('bad-endpoint', `--endpoint ${pod} is given twice: name each pod once`);
    }
    out[pod] = endpoint;
  }
  return out;
}

/** A Secret's name: a DNS-1123 subdomain (lower-case letters, digits, '-', '.'), at most 253 characters. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * `--credentials-secret NAME` as `spec.credentialsSecret` (the Secret in the upgrade's namespace
 * with the engine's admin credentials; keys `username` / `password`, or a client certificate for
 * CockroachDB); undefined when not given. Unlike `--endpoint`, the name is recorded in a new
 * Upgrade resource: it is as valid for the operator as for this command.
 */
export function parseCredentialsSecretFlag(value: string | undefined): { name: string } | undefined {
  if (value === undefined) return undefined;
  if (!SECRET_NAME.test(value) || value.length > 253) {
    throw new BadInputError(
      'bad-credentials-secret',
      `--credentials-secret ${JSON.stringify(value)}: not a Secret name; use the name of a Secret in the upgrade's namespace (lower-case letters, digits, '-', '.')`,
    );
  }
  return { name: value };
}

/**
 * `--credentials-secret` against the engine and the upgrade it would drive: BadInputError for an
 * engine that takes no credentials (`generic`), and for an open upgrade whose own
 * `spec.credentialsSecret` differs (the resource is the record: a second Secret would drive half
 * an upgrade with other credentials). An ended one is replaced by a new apply, so it may differ.
 */
export function checkCredentialsSecret(
  secret: { name: string } | undefined,
  engine: string,
  upgrade: UpgradeResource,
): void {
  if (!secret) return;
  if (engine === 'generic') {
    throw new BadInputError(
      'bad-credentials-secret',
      `--credentials-secret ${secret.name}: engine generic uses no credentials (it gates on pod readiness only); drop it or choose the engine with --engine`,
    );
  }
  const recorded = upgrade.spec.credentialsSecret?.name;
  const phase = upgrade.status?.phase as Phase | undefined;
  const open = upgrade.metadata.uid !== undefined && !(phase && isTerminal(phase));
  if (open && recorded !== secret.name) {
    throw new BadInputError(
      'credentials-mismatch',
      `upgrade ${upgrade.metadata.name} ${recorded ? `reads its credentials from secret ${recorded}` : 'was created without a credentials Secret'}, not ${secret.name}: drop --credentials-secret${recorded ? '' : ', or start a new upgrade with --name'}`,
    );
  }
}

/**
 * The engine a Kubernetes upgrade uses: `generic`, or one whose adapter talks to the pods' admin
 * endpoints, with the credentials of the upgrade's `spec.credentialsSecret` (the same factory as
 * the operator's, {@link engineForUpgrade}). BadInputError naming `--engine` for any other.
 */
export function kubernetesEngine(kc: KubeConfig, upgrade: UpgradeResource, name: string): Promise<Engine> {
  return engineForUpgrade(kc, upgrade, '--engine', name);
}

/** The upgrade a verb without `--statefulset` acts on: by name, or the only open one (else the newest). */
async function findResource(
  journal: UpgradeResourceJournal,
  namespace: string,
  name: string | undefined,
): Promise<UpgradeResource> {
  if (name) {
    const res = await journal.getResource(name);
    if (!res) {
      throw new BadInputError(
        'no-such-upgrade',
        `no upgrade named "${name}" in namespace ${namespace}: check --name and -n`,
      );
    }
    return res;
  }
  const all = await journal.listResources();
  const open = all.filter((r) => !r.status?.phase || !isTerminal(r.status.phase as Phase));
  if (open.length === 1) return open[0]!;
  if (open.length > 1) {
    throw new BadInputError(
      'which-upgrade',
      `several upgrades are open in namespace ${namespace} (${open.map((r) => r.metadata.name).join(', ')}): choose one with --name`,
    );
  }
  const newest = [...all].sort((a, b) =>
    (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
  )[0];
  if (!newest) {
    throw new BadInputError(
      'no-upgrade',
      `no upgrade in namespace ${namespace}: start one with \`baton apply --platform kubernetes --statefulset NAME --to VERSION\``,
    );
  }
  return newest;
}

/** Build the Kubernetes target from flags. */
export async function kubernetesTarget(o: Record<string, unknown>, io: CliIO): Promise<Target> {
  const f = o as KubeTargetFlags;
  const kc: KubeConfig = loadKubeConfig({ kubeconfig: f.kubeconfig, context: f.context, env: io.env });
  const namespace = f.namespace ?? contextNamespace(kc);
  const byStatefulSet = parseStatefulSetFlags(f.statefulset);
  const byCluster = parseClusterRefFlag(f.clusterRef, f.clusterApiVersion);
  if (byStatefulSet && byCluster) {
    throw new BadInputError(
      'bad-target',
      '--statefulset and --cluster-ref both name a target: give one of them',
    );
  }
  const byNodes = nodesTargetFromFlags(f);
  if (byNodes && (byStatefulSet || byCluster)) {
    throw new BadInputError(
      'bad-target',
      `--engine ${KUBERNETES_NODES_ENGINE} upgrades nodes, not ${byStatefulSet ? '--statefulset' : '--cluster-ref'}: give one target`,
    );
  }
  const target = byStatefulSet ?? byCluster ?? (byNodes ? { nodes: byNodes } : undefined);
  const endpoints = parseEndpointFlags(f.endpoint);
  const credentialsSecret = parseCredentialsSecretFlag(f.credentialsSecret);
  const events = new KubeEventRecorder({ kc, clock: io.clock, logger: io.logger, instance: 'baton-cli' });
  const journal = new UpgradeResourceJournal({
    kc,
    namespace,
    target,
    ...(credentialsSecret ? { createExtra: { credentialsSecret } } : {}),
    clock: io.clock,
    logger: io.logger,
    events,
  });
  let upgrade: UpgradeResource;
  if (target) {
    const draft: UpgradeResource = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: 'draft', namespace },
      spec: {
        target,
        engine: f.engine ?? 'generic',
        version: f.to ?? '0',
        ...(credentialsSecret ? { credentialsSecret } : {}),
      },
    };
    const name = f.name ?? `${defaultClusterName(draft)}-upgrade`;
    const existing = await journal.getResource(name);
    upgrade = existing ?? { ...draft, metadata: { name, namespace } };
  } else {
    upgrade = await findResource(journal, namespace, f.name);
  }
  if (upgrade.spec.target.nodes) {
    // A nodes target: Node objects and the node engine (wiring/nodes.ts), no pod engine.
    const { platform, engine } = nodesTarget({ kc, upgrade, journal, clock: io.clock, logger: io.logger });
    return {
      kind: 'kubernetes',
      platform,
      engine,
      clock: io.clock,
      cluster: defaultClusterName(upgrade),
      close: () => engine.close(),
    };
  }
  const engineName = f.engine ?? upgrade.spec.engine ?? 'generic';
  if (f.engine && upgrade.spec.engine && f.engine !== upgrade.spec.engine && upgrade.metadata.uid) {
    throw new BadInputError(
      'engine-mismatch',
      `upgrade ${upgrade.metadata.name} uses engine ${upgrade.spec.engine}, not ${f.engine}: drop --engine`,
    );
  }
  checkCredentialsSecret(credentialsSecret, engineName, upgrade);
  const engine = await kubernetesEngine(
    kc,
    credentialsSecret ? { ...upgrade, spec: { ...upgrade.spec, credentialsSecret } } : upgrade,
    engineName,
  );
  const platform = new KubernetesPlatform({
    kc,
    engines: engineRegistry,
    namespace,
    upgrade,
    journal,
    clock: io.clock,
    logger: io.logger,
    events,
    ...(endpoints ? { endpoints } : {}),
  });
  return {
    kind: 'kubernetes',
    platform: withEngineStages(engine.name, platform, kc, namespace, () => platform.upgrade),
    engine,
    clock: io.clock,
    cluster: defaultClusterName(upgrade),
    close: async () => {
      await engine.close?.();
    },
  };
}
