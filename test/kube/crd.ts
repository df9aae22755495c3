/**
 * CustomResourceDefinitions: validation of the definition (minimal structural-schema checks) and
 * the resource type it makes the server serve. Custom objects themselves are not validated
 * against the schema, and the scale subresource of custom resources is not served.
 */
import { invalid } from './errors.js';
import type { ResourceType } from './resources.js';
import { isObject, type JsonObject, type KubeObject } from './types.js';

interface CrdVersion {
  name?: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: unknown };
  subresources?: { status?: unknown; scale?: unknown };
}

interface CrdSpec {
  group?: string;
  scope?: string;
  names?: { plural?: string; singular?: string; kind?: string; listKind?: string; shortNames?: string[] };
  versions?: CrdVersion[];
}

const GROUP = 'apiextensions.k8s.io';
const KIND = 'CustomResourceDefinition';

/**
 * Throws 422 Invalid when the CRD is not acceptable: missing group/names/scope, name not
 * `<plural>.<group>`, no versions, not exactly one storage version, a version without
 * `schema.openAPIV3Schema`, or a schema that is not structural (an object node without `type`,
 * unless it is `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`).
 */
export function validateCrd(obj: KubeObject): void {
  const name = obj.metadata.name ?? '';
  const spec = (isObject(obj.spec) ? obj.spec : {}) as CrdSpec;
  const causes: { field: string; message: string }[] = [];
  if (!spec.group) causes.push({ field: 'spec.group', message: 'Required value' });
  if (!spec.names?.plural) causes.push({ field: 'spec.names.plural', message: 'Required value' });
  if (!spec.names?.kind) causes.push({ field: 'spec.names.kind', message: 'Required value' });
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    causes.push({
      field: 'spec.scope',
      message: `Unsupported value: "${String(spec.scope)}": supported values: "Cluster", "Namespaced"`,
    });
  }
  if (spec.group && spec.names?.plural && name !== `${spec.names.plural}.${spec.group}`) {
    causes.push({
      field: 'metadata.name',
      message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group`,
    });
  }
  const versions = spec.versions ?? [];
  if (versions.length === 0)
    causes.push({
      field: 'spec.versions',
      message: 'Invalid value: must have exactly one version marked as storage version',
    });
  else if (versions.filter((v) => v.storage).length !== 1) {
    causes.push({
      field: 'spec.versions',
      message: 'Invalid value: must have exactly one version marked as storage version',
    });
  }
  versions.forEach((v, i) => {
    if (!v.name) causes.push({ field: `spec.versions[${i}].name`, message: 'Required value' });
    const schema = v.schema?.openAPIV3Schema;
    if (!isObject(schema)) {
      causes.push({
        field: `spec.versions[${i}].schema.openAPIV3Schema`,
        message: 'Required value: schemas are required',
      });
      return;
    }
    for (const path of untypedNodes(schema, `spec.versions[${i}].schema.openAPIV3Schema`)) {
      causes.push({
        field: `${path}.type`,
        message: 'Required value: must not be empty for specified object fields',
      });
    }
  });
  if (causes.length > 0) throw invalid(GROUP, KIND, name, causes);
}

/** Paths of schema nodes that lack `type` (structural schema rule). */
function untypedNodes(schema: JsonObject, path: string): string[] {
  const out: string[] = [];
  const exempt =
    schema['x-kubernetes-int-or-string'] === true || schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (typeof schema.type !== 'string' && !exempt) out.push(path);
  if (isObject(schema.properties)) {
    for (const [k, v] of Object.entries(schema.properties))
      if (isObject(v)) out.push(...untypedNodes(v, `${path}.properties[${k}]`));
  }
  if (isObject(schema.items)) out.push(...untypedNodes(schema.items, `${path}.items`));
  if (isObject(schema.additionalProperties))
    out.push(...untypedNodes(schema.additionalProperties, `${path}.additionalProperties`));
  return out;
}

/** The resource type a (valid) CRD serves: its served versions, scope and subresources. */
export function crdResourceType(obj: KubeObject): ResourceType {
  const spec = obj.spec as CrdSpec;
  const served = (spec.versions ?? []).filter((v) => v.served !== false);
  const hasStatus = served.some((v) => v.subresources?.status !== undefined);
  const storage = served.find((v) => v.storage);
  const versions = [storage?.name, ...served.map((v) => v.name)].filter(
    (v, i, a): v is string => !!v && a.indexOf(v) === i,
  );
  return {
    group: spec.group!,
    versions,
    resource: spec.names!.plural!,
    singular: spec.names!.singular ?? spec.names!.kind!.toLowerCase(),
    kind: spec.names!.kind!,
    namespaced: spec.scope === 'Namespaced',
    subresources: hasStatus ? ['status'] : [],
    hasStatus,
    custom: true,
    tracksGeneration: true,
    ...(spec.names!.shortNames ? { shortNames: spec.names!.shortNames } : {}),
  };
}

/** The status a CRD gets once its names are accepted and it is served. */
export function establishedStatus(obj: KubeObject, now: string): JsonObject {
  const spec = obj.spec as CrdSpec;
  const names = {
    ...spec.names,
    listKind: spec.names?.listKind ?? `${spec.names?.kind}List`,
    singular: spec.names?.singular ?? spec.names?.kind?.toLowerCase(),
  };
  const cond = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    acceptedNames: names,
    conditions: [
      cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    storedVersions: (spec.versions ?? []).filter((v) => v.storage).map((v) => v.name),
  };
}
