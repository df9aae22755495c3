/**
 * The resource types the fake serves: the built-in ones Baton uses and those added by
 * CustomResourceDefinitions. Discovery documents are generated from this registry, so
 * `KubernetesObjectApi` (which resolves kinds through discovery) works against the fake.
 */
import type { JsonObject } from './types.js';

/** One served resource type. */
export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  /** Versions served; objects are stored once and rewritten to the requested version on read. */
  versions: string[];
  /** Plural resource name in URLs (`pods`). */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources served: `status`, `scale`, `eviction`. */
  subresources: string[];
  /** Whether the status subresource splits spec and status writes. */
  hasStatus: boolean;
  /** Strategic merge patch is refused (415) for custom resources, like the real server. */
  custom: boolean;
  /** Resources whose spec the fake keeps in `metadata.generation` accounting; false = never bumps. */
  tracksGeneration: boolean;
}

/** `group/resource`, the storage key of a type (versions share storage). */
export function typeKey(group: string, resource: string): string {
  return `${group}/${resource}`;
}

/** The `apiVersion` string of a group and version. */
export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  opts: { sub?: string[]; shortNames?: string[]; generation?: boolean } = {},
): ResourceType {
  const sub = opts.sub ?? [];
  return {
    group,
    versions: [version],
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    subresources: sub,
    hasStatus: sub.includes('status'),
    custom: false,
    tracksGeneration: opts.generation ?? sub.includes('status'),
    ...(opts.shortNames ? { shortNames: opts.shortNames } : {}),
  };
}

/** The built-in types served from the start. */
export function builtinTypes(): ResourceType[] {
  return [
    builtin('', 'v1', 'namespaces', 'Namespace', false, {
      sub: ['status'],
      shortNames: ['ns'],
      generation: false,
    }),
    builtin('', 'v1', 'pods', 'Pod', true, {
      sub: ['status', 'eviction'],
      shortNames: ['po'],
      generation: false,
    }),
    builtin('', 'v1', 'services', 'Service', true, {
      sub: ['status'],
      shortNames: ['svc'],
      generation: false,
    }),
    builtin('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
    builtin('', 'v1', 'secrets', 'Secret', true),
    builtin('', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
    builtin('', 'v1', 'serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
    builtin('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, {
      sub: ['status'],
      shortNames: ['pvc'],
      generation: false,
    }),
    builtin('', 'v1', 'endpoints', 'Endpoints', true, { shortNames: ['ep'] }),
    builtin('', 'v1', 'nodes', 'Node', false, { sub: ['status'], shortNames: ['no'], generation: false }),
    builtin('apps', 'v1', 'statefulsets', 'StatefulSet', true, {
      sub: ['status', 'scale'],
      shortNames: ['sts'],
    }),
    builtin('apps', 'v1', 'deployments', 'Deployment', true, {
      sub: ['status', 'scale'],
      shortNames: ['deploy'],
    }),
    builtin('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true),
    builtin('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, {
      sub: ['status'],
      shortNames: ['pdb'],
    }),
    builtin('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
    builtin('events.k8s.io', 'v1', 'events', 'Event', true, { shortNames: ['ev'] }),
    builtin('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, {
      sub: ['status'],
      shortNames: ['crd', 'crds'],
    }),
    builtin('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
    builtin('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
    builtin('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
    builtin('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  ];
}

/** The mutable set of served types, indexed for routing and discovery. */
export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();

  constructor(initial: ResourceType[] = builtinTypes()) {
    for (const t of initial) this.add(t);
  }

  /** Serve a type (replacing one with the same group/resource). */
  add(t: ResourceType): void {
    this.types.set(typeKey(t.group, t.resource), t);
  }

  /** Stop serving a type. */
  remove(group: string, resource: string): void {
    this.types.delete(typeKey(group, resource));
  }

  /** The type served at `group/version/resource`, if any. */
  lookup(group: string, version: string, resource: string): ResourceType | undefined {
    const t = this.types.get(typeKey(group, resource));
    return t && t.versions.includes(version) ? t : undefined;
  }

  /** The type by group and resource regardless of version. */
  byResource(group: string, resource: string): ResourceType | undefined {
    return this.types.get(typeKey(group, resource));
  }

  /** Every served type. */
  all(): ResourceType[] {
    return [...this.types.values()];
  }

  /** Groups (other than core) and their versions, in a stable order. */
  groups(): { name: string; versions: string[] }[] {
    const m = new Map<string, Set<string>>();
    for (const t of this.types.values()) {
      if (!t.group) continue;
      const s = m.get(t.group) ?? new Set<string>();
      for (const v of t.versions) s.add(v);
      m.set(t.group, s);
    }
    return [...m.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, s]) => ({ name, versions: [...s] }));
  }

  /** `APIGroup` document of one group, or undefined when it is not served. */
  apiGroup(name: string): JsonObject | undefined {
    const g = this.groups().find((x) => x.name === name);
    if (!g) return undefined;
    const versions = g.versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { kind: 'APIGroup', apiVersion: 'v1', name, versions, preferredVersion: versions[0] };
  }

  /** `APIGroupList` served at `/apis`. */
  apiGroupList(): JsonObject {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.groups().map((g) => {
        const doc = this.apiGroup(g.name)!;
        return { name: doc.name, versions: doc.versions, preferredVersion: doc.preferredVersion };
      }),
    };
  }

  /** `APIResourceList` of one group version, or undefined when nothing is served there. */
  resourceList(group: string, version: string): JsonObject | undefined {
    const types = this.all().filter((t) => t.group === group && t.versions.includes(version));
    if (types.length === 0) return undefined;
    const resources: JsonObject[] = [];
    for (const t of types) {
      resources.push({
        name: t.resource,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: VERBS,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      });
      for (const sub of t.subresources) {
        const kind = sub === 'scale' ? 'Scale' : sub === 'eviction' ? 'Eviction' : t.kind;
        const verbs = sub === 'eviction' ? ['create'] : ['get', 'patch', 'update'];
        const extra =
          sub === 'scale'
            ? { group: 'autoscaling', version: 'v1' }
            : sub === 'eviction'
              ? { group: 'policy', version: 'v1' }
              : {};
        resources.push({
          name: `${t.resource}/${sub}`,
          singularName: '',
          namespaced: t.namespaced,
          kind,
          verbs,
          ...extra,
        });
      }
    }
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: apiVersionOf(group, version),
      resources,
    };
  }
}
