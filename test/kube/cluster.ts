/**
 * The semantics of the API server independent of HTTP: create/get/list/update/patch/delete with
 * uid, creationTimestamp, generation, optimistic concurrency, the status subresource, finalizers,
 * graceful pod deletion and garbage collection of dependents. The HTTP layer and the in-process
 * controllers both go through this class, so controller writes look exactly like client writes to
 * watchers (they are not counted in the request log).
 */
import type { Clock } from '../../src/core/clock.js';
import type { Logger } from '../../src/core/logger.js';
import { ApiError, alreadyExists, badRequest, conflict, invalid, notFound, statusBody } from './errors.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { apiVersionOf, ResourceRegistry, typeKey, type ResourceType } from './resources.js';
import { matchesFields, matchesLabels, type FieldRequirement, type Selector } from './selectors.js';
import { ObjectStore } from './store.js';
import {
  clone,
  isObject,
  jsonEqual,
  type JsonObject,
  type KubeObject,
  type ManagedFieldsEntry,
} from './types.js';

/** Per-type behaviour plugged into the generic storage (defaults, validation, reactions). */
export interface TypeHooks {
  /**
   * Fill defaults of a new object (after status was reset; may set an initial status) and of
   * every main-resource update (status is then the stored one, so defaults must use `??=`).
   */
  defaults?(obj: KubeObject): void;
  /** Throw an ApiError (422) when the object is not acceptable. `old` is undefined on create. */
  validate?(obj: KubeObject, old: KubeObject | undefined): void;
  /** Called after the object was stored by a create or update. */
  afterWrite?(obj: KubeObject, old: KubeObject | undefined): void;
  /** Called after the object left storage. */
  afterRemove?(obj: KubeObject): void;
}

/** Options of a write. */
export interface WriteOptions {
  fieldManager?: string;
  /** `dryRun=All`: validate and compute the result but store nothing. */
  dryRun?: boolean;
  subresource?: 'status';
  /** How `fieldManager` is recorded in managedFields; `Apply` for server-side apply. */
  operation?: 'Apply' | 'Update';
}

/** Options of a delete (query parameters and the DeleteOptions body). */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

/** The four patch content types the real server accepts. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** Construction options. */
export interface ClusterOptions {
  clock: Clock;
  logger: Logger;
  /** Events kept for watch replay; older resourceVersions are Expired (410). */
  historyLimit: number;
}

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Generic object semantics over an {@link ObjectStore}. */
export class Cluster {
  readonly store: ObjectStore;
  readonly registry = new ResourceRegistry();
  private readonly hooks = new Map<string, TypeHooks>();
  private readonly terminatedPods = new Set<string>();
  private uidCounter = 0;
  private nameCounter = 0;

  constructor(private readonly opts: ClusterOptions) {
    this.store = new ObjectStore(opts.historyLimit);
  }

  /** Current time as the API server formats timestamps (RFC 3339, second precision). */
  timestamp(offsetMs = 0): string {
    return new Date(Math.floor((this.opts.clock.now() + offsetMs) / 1000) * 1000)
      .toISOString()
      .replace('.000Z', 'Z');
  }

  /** Register behaviour for a type. */
  setHooks(group: string, resource: string, hooks: TypeHooks): void {
    this.hooks.set(typeKey(group, resource), hooks);
  }

  /** The served type or a 404 naming it. */
  type(group: string, resource: string): ResourceType {
    const t = this.registry.byResource(group, resource);
    if (!t)
      throw new ApiError(
        404,
        'NotFound',
        `the server could not find the requested resource (${resource}${group ? `.${group}` : ''})`,
      );
    return t;
  }

  /** One object or 404. */
  get(t: ResourceType, namespace: string, name: string): KubeObject {
    const o = this.store.get(t.group, t.resource, ns(t, namespace), name);
    if (!o) throw notFound(t.group, t.resource, name);
    return o;
  }

  /** One object or undefined. */
  find(t: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return this.store.get(t.group, t.resource, ns(t, namespace), name);
  }

  /** Objects of a type matching the selectors; `namespace` undefined lists across namespaces. */
  list(
    t: ResourceType,
    namespace: string | undefined,
    labels: Selector = [],
    fields: FieldRequirement[] = [],
  ): KubeObject[] {
    return this.store.list(
      t.group,
      t.resource,
      t.namespaced ? namespace : undefined,
      (o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o as KubeObject),
    );
  }

  /** Create an object; 409 AlreadyExists, 404 for a missing namespace, 422 for an invalid one. */
  create(
    t: ResourceType,
    version: string,
    namespace: string,
    body: unknown,
    opts: WriteOptions = {},
  ): KubeObject {
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    const obj = clone(body) as KubeObject;
    if (!isObject(obj.metadata)) obj.metadata = {};
    if (obj.kind !== undefined && obj.kind !== t.kind) {
      throw badRequest(
        `the kind in the body (${String(obj.kind)}) does not match the resource ${t.resource} (kind ${t.kind})`,
      );
    }
    if (t.namespaced) {
      if (obj.metadata.namespace && namespace && obj.metadata.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      obj.metadata.namespace = namespace || obj.metadata.namespace || 'default';
      const nsType = this.registry.byResource('', 'namespaces')!;
      if (!this.find(nsType, '', obj.metadata.namespace))
        throw notFound('', 'namespaces', obj.metadata.namespace);
    } else delete obj.metadata.namespace;
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = obj.metadata.generateName + this.nameSuffix();
    const name = obj.metadata.name;
    if (!name)
      throw invalid(t.group, t.kind, '', [
        { field: 'metadata.name', message: 'Required value: name or generateName is required' },
      ]);
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      throw invalid(t.group, t.kind, name, [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
        },
      ]);
    }
    if (this.find(t, obj.metadata.namespace ?? '', name)) throw alreadyExists(t.group, t.resource, name);
    obj.apiVersion = apiVersionOf(t.group, version);
    obj.kind = t.kind;
    if (t.hasStatus) delete obj.status;
    const meta = obj.metadata;
    meta.uid = this.nextUid();
    meta.creationTimestamp = this.timestamp();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (t.tracksGeneration || t.custom) meta.generation = 1;
    else delete meta.generation;
    if (opts.fieldManager) {
      recordManager(
        obj,
        opts.fieldManager,
        opts.operation ?? 'Update',
        apiVersionOf(t.group, version),
        this.timestamp(),
        undefined,
      );
    }
    const hooks = this.hooks.get(typeKey(t.group, t.resource));
    hooks?.defaults?.(obj);
    hooks?.validate?.(obj, undefined);
    if (opts.dryRun) return obj;
    const stored = this.store.put(t.group, t.resource, obj);
    hooks?.afterWrite?.(stored, undefined);
    return stored;
  }

  /** Replace an object (PUT); 409 Conflict on a stale `metadata.resourceVersion`, 404 if absent. */
  update(
    t: ResourceType,
    version: string,
    namespace: string,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): KubeObject {
    if (!isObject(body) || !isObject(body.metadata))
      throw badRequest('the request body must be an object with metadata');
    const next = clone(body) as KubeObject;
    if (next.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    const old = this.get(t, namespace, name);
    if (next.metadata.resourceVersion && next.metadata.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(t.group, t.resource, name);
    }
    return this.commit(t, version, old, next, opts, 'Update');
  }

  /**
   * Patch an object. Server-side apply of an absent object creates it. A patch that sets
   * `metadata.resourceVersion` is a precondition, as on the real server.
   */
  patch(
    t: ResourceType,
    version: string,
    namespace: string,
    name: string,
    type: PatchType,
    body: unknown,
    opts: WriteOptions & { force?: boolean } = {},
  ): KubeObject {
    if (type === 'apply' && !opts.fieldManager) {
      throw new ApiError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    if (type === 'strategic' && t.custom) {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
    }
    const old = this.find(t, namespace, name);
    if (!old) {
      if (type !== 'apply' || opts.subresource) throw notFound(t.group, t.resource, name);
      const created = mergePatch({}, body) as KubeObject;
      if (!isObject(created.metadata)) created.metadata = {};
      created.metadata.name = name;
      return this.create(t, version, namespace, created, { ...opts, operation: 'Apply' });
    }
    let next: unknown;
    if (type === 'json') next = jsonPatch(old, body);
    else if (type === 'merge' || type === 'apply') {
      if (!isObject(body)) throw badRequest('a merge patch must be a JSON object');
      next = mergePatch(old, body);
    } else next = strategicMergePatch(old, body);
    if (!isObject(next) || !isObject(next.metadata)) throw badRequest('the patch removed metadata');
    const patched = next as KubeObject;
    if (patched.metadata.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(t.group, t.resource, name);
    if (patched.metadata.name !== name) throw badRequest('the patch may not change metadata.name');
    return this.commit(t, version, old, patched, opts, type === 'apply' ? 'Apply' : 'Update');
  }

  /**
   * Store `next` as the new state of `old`: keeps identity fields, honours the status
   * subresource, bumps generation on spec changes, skips no-op writes (no new resourceVersion)
   * and completes a deletion whose last finalizer was removed.
   */
  private commit(
    t: ResourceType,
    version: string,
    old: KubeObject,
    next: KubeObject,
    opts: WriteOptions,
    operation: 'Apply' | 'Update',
  ): KubeObject {
    let obj: KubeObject;
    if (t.hasStatus && opts.subresource === 'status') {
      obj = clone(old);
      if (next.status === undefined) delete obj.status;
      else obj.status = clone(next.status);
    } else {
      obj = clone(next);
      if (t.hasStatus) {
        if (old.status === undefined) delete obj.status;
        else obj.status = clone(old.status);
      }
    }
    if (!isObject(obj.metadata)) obj.metadata = {};
    const meta = obj.metadata as Record<string, unknown>;
    const oldMeta = old.metadata as Record<string, unknown>;
    for (const k of [
      'uid',
      'creationTimestamp',
      'namespace',
      'name',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
    ]) {
      if (oldMeta[k] === undefined) delete meta[k];
      else meta[k] = oldMeta[k];
    }
    if (obj.metadata.managedFields === undefined && old.metadata.managedFields)
      obj.metadata.managedFields = old.metadata.managedFields;
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    obj.apiVersion = old.apiVersion;
    obj.kind = old.kind;
    if (old.metadata.deletionTimestamp) {
      const added = (obj.metadata.finalizers ?? []).filter(
        (f) => !(old.metadata.finalizers ?? []).includes(f),
      );
      if (added.length > 0) {
        throw new ApiError(
          422,
          'Invalid',
          `${t.resource} "${obj.metadata.name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted`,
        );
      }
    }
    const hooks = this.hooks.get(typeKey(t.group, t.resource));
    if (opts.subresource !== 'status') hooks?.defaults?.(obj);
    if ((t.tracksGeneration || t.custom) && !jsonEqual(specPart(obj), specPart(old))) {
      obj.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    hooks?.validate?.(obj, old);
    if (
      opts.fieldManager &&
      (operation === 'Apply' || !jsonEqual(withoutManaged(obj), withoutManaged(old)))
    ) {
      recordManager(
        obj,
        opts.fieldManager,
        operation,
        apiVersionOf(t.group, version),
        this.timestamp(),
        opts.subresource,
      );
    }
    if (jsonEqual(obj, old)) return old;
    if (opts.dryRun) return obj;
    const stored = this.store.put(t.group, t.resource, obj);
    hooks?.afterWrite?.(stored, old);
    this.maybeFinishDeletion(t, stored);
    return stored;
  }

  /**
   * Write by an in-process controller: replaces the object's status (`status` true) or its
   * whole content, without conflict checks. Returns the stored object, or undefined when the
   * object is gone.
   */
  controllerWrite(t: ResourceType, obj: KubeObject, status: boolean): KubeObject | undefined {
    const old = this.find(t, obj.metadata.namespace ?? '', obj.metadata.name!);
    if (!old) return undefined;
    const next = clone(obj);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    return this.commit(t, t.versions[0]!, old, next, status ? { subresource: 'status' } : {}, 'Update');
  }

  /**
   * Delete an object. Objects with finalizers, and pods with a grace period, get a
   * `deletionTimestamp` and stay (the response is the object); others leave storage at once (the
   * response is a Success Status). Dependents are garbage collected unless the policy is Orphan.
   */
  delete(
    t: ResourceType,
    namespace: string,
    name: string,
    opts: DeleteOptions = {},
  ): { object: KubeObject; removed: boolean; body: JsonObject } {
    const old = this.get(t, namespace, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      throw new ApiError(
        409,
        'Conflict',
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    if (opts.dryRun) return { object: old, removed: false, body: old as unknown as JsonObject };
    const isPod = t.group === '' && t.resource === 'pods';
    const grace = isPod ? (opts.gracePeriodSeconds ?? podGrace(old)) : 0;
    if (isPod && grace === 0) this.terminatedPods.add(old.metadata.uid!);
    if (t.group === '' && t.resource === 'namespaces') this.emptyNamespace(name);
    const hasFinalizers = (old.metadata.finalizers ?? []).length > 0;
    if (hasFinalizers || (isPod && grace > 0 && !this.terminatedPods.has(old.metadata.uid!))) {
      if (old.metadata.deletionTimestamp)
        return { object: old, removed: false, body: old as unknown as JsonObject };
      const next = clone(old);
      next.metadata.deletionTimestamp = this.timestamp(grace * 1000);
      next.metadata.deletionGracePeriodSeconds = grace;
      if (opts.propagationPolicy === 'Orphan') this.orphanPending.add(old.metadata.uid!);
      const stored = this.store.put(t.group, t.resource, next);
      return { object: stored, removed: false, body: stored as unknown as JsonObject };
    }
    const last = this.removeNow(t, old, opts.propagationPolicy);
    const body = statusBody(200, '', '', { name, group: t.group, kind: t.resource });
    delete body.reason;
    delete body.message;
    (body.details as JsonObject).uid = last.metadata.uid;
    return { object: last, removed: true, body };
  }

  private readonly orphanPending = new Set<string>();

  /** A terminated pod (the kubelet finished stopping it) leaves storage once its finalizers are gone. */
  markPodTerminated(namespace: string, name: string, uid: string): void {
    this.terminatedPods.add(uid);
    const t = this.registry.byResource('', 'pods')!;
    const pod = this.find(t, namespace, name);
    if (pod && pod.metadata.uid === uid) this.maybeFinishDeletion(t, pod);
  }

  private maybeFinishDeletion(t: ResourceType, obj: KubeObject): void {
    if (!obj.metadata.deletionTimestamp || (obj.metadata.finalizers ?? []).length > 0) return;
    if (t.group === '' && t.resource === 'pods' && !this.terminatedPods.has(obj.metadata.uid!)) return;
    const policy = this.orphanPending.has(obj.metadata.uid!) ? 'Orphan' : undefined;
    this.removeNow(t, obj, policy);
  }

  private removeNow(
    t: ResourceType,
    obj: KubeObject,
    policy: DeleteOptions['propagationPolicy'],
  ): KubeObject {
    const uid = obj.metadata.uid!;
    const last =
      this.store.remove(t.group, t.resource, obj.metadata.namespace ?? '', obj.metadata.name!) ?? obj;
    this.terminatedPods.delete(uid);
    this.orphanPending.delete(uid);
    this.hooks.get(typeKey(t.group, t.resource))?.afterRemove?.(last);
    this.collectDependents(uid, policy === 'Orphan');
    return last;
  }

  /** Background garbage collection: delete (or orphan) every object owned by `uid`. */
  private collectDependents(uid: string, orphan: boolean): void {
    for (const key of this.store.typeKeys()) {
      const [group, resource] = splitKey(key);
      const t = this.registry.byResource(group, resource);
      if (!t) continue;
      const owned = (o: Readonly<KubeObject>) =>
        (o.metadata.ownerReferences ?? []).some((r) => r.uid === uid);
      for (const o of this.store.listByKey(key, owned)) {
        const refs = o.metadata.ownerReferences ?? [];
        if (orphan) {
          const next = clone(o);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.store.put(group, resource, next);
        } else if (!o.metadata.deletionTimestamp) {
          this.delete(t, o.metadata.namespace ?? '', o.metadata.name!);
        }
      }
    }
  }

  private emptyNamespace(namespace: string): void {
    for (const t of this.registry.all()) {
      if (!t.namespaced) continue;
      for (const o of this.store.list(t.group, t.resource, namespace)) {
        if (this.find(t, namespace, o.metadata.name!))
          this.delete(t, namespace, o.metadata.name!, { gracePeriodSeconds: 0 });
      }
    }
  }

  private nextUid(): string {
    const n = (++this.uidCounter).toString(16).padStart(12, '0');
    return `00000000-0000-4000-8000-${n}`;
  }

  private nameSuffix(): string {
    let n = ++this.nameCounter * 7919;
    let s = '';
    for (let i = 0; i < 5; i++) {
      s += NAME_SUFFIX_ALPHABET[n % NAME_SUFFIX_ALPHABET.length];
      n = Math.floor(n / NAME_SUFFIX_ALPHABET.length);
    }
    return s;
  }
}

function ns(t: ResourceType, namespace: string): string {
  return t.namespaced ? namespace : '';
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

function podGrace(pod: KubeObject): number {
  const spec = pod.spec;
  const g = isObject(spec) ? spec.terminationGracePeriodSeconds : undefined;
  return typeof g === 'number' ? g : 30;
}

/** Everything but metadata and status: what `generation` tracks. */
function specPart(o: KubeObject): JsonObject {
  const rest: JsonObject = { ...o };
  delete rest.metadata;
  delete rest.status;
  delete rest.apiVersion;
  delete rest.kind;
  return rest;
}

function withoutManaged(o: KubeObject): KubeObject {
  const c = clone(o);
  delete c.metadata.managedFields;
  return c;
}

function recordManager(
  obj: KubeObject,
  manager: string,
  operation: 'Apply' | 'Update',
  apiVersion: string,
  time: string,
  subresource: string | undefined,
): void {
  const entries: ManagedFieldsEntry[] = (obj.metadata.managedFields ?? []).filter(
    (e) => !(e.manager === manager && e.operation === operation && e.subresource === subresource),
  );
  const entry: ManagedFieldsEntry = {
    manager,
    operation,
    apiVersion,
    time,
    fieldsType: 'FieldsV1',
    fieldsV1: {},
  };
  if (subresource) entry.subresource = subresource;
  entries.push(entry);
  obj.metadata.managedFields = entries;
}
