/**
 * The four patch formats of the Kubernetes API, applied to plain JSON.
 *
 * - JSON merge patch (RFC 7386): objects merge, `null` deletes, arrays replace.
 * - JSON patch (RFC 6902): add, remove, replace, move, copy, test.
 * - Strategic merge patch: an APPROXIMATION of the real one. The real server reads merge keys and
 *   strategies from the Go struct tags of built-in types; the fake uses a fixed table by field name:
 *   `containers`, `initContainers`, `ephemeralContainers`, `volumes`, `env`, `imagePullSecrets`
 *   merge by `name`; `volumeMounts` by `mountPath`; `volumeDevices` by `devicePath`; `ports` by
 *   `containerPort` when the items carry one, else by `port` (Service ports); `conditions` by `type`;
 *   `ownerReferences` by `uid`; `hostAliases` by `ip`; `finalizers` is a merged set of strings.
 *   Every other list is replaced, as with a merge patch. The directives `$patch: delete` (on a list
 *   item or a map), `$patch: replace` (on a map) and `$deleteFromPrimitiveList/<field>` are honoured;
 *   `$setElementOrder/<field>` and `$retainKeys` are accepted and ignored.
 * - Server-side apply is handled by the caller as a merge patch of the applied configuration.
 */
import { ApiError } from './errors.js';
import { clone, isObject, jsonEqual, type JsonObject } from './types.js';

/** RFC 7386 JSON merge patch. Returns a new value; inputs are not modified. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** One RFC 6902 operation. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

/**
 * RFC 6902 JSON patch. A malformed operation is a 400 BadRequest; a failed `test` or a path that
 * does not exist is a 422 Invalid, as the real server reports them.
 */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new ApiError(400, 'BadRequest', `invalid json patch operation ${JSON.stringify(raw)}`);
    }
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, parsePointer(op.path), clone(op.value));
        break;
      case 'remove':
        doc = removeAt(doc, parsePointer(op.path)).doc;
        break;
      case 'replace': {
        const path = parsePointer(op.path);
        getAt(doc, path, op.path);
        doc = addAt(removeAt(doc, path).doc, path, clone(op.value));
        break;
      }
      case 'move': {
        const removed = removeAt(doc, parsePointer(requireFrom(op)));
        doc = addAt(removed.doc, parsePointer(op.path), removed.value);
        break;
      }
      case 'copy':
        doc = addAt(
          doc,
          parsePointer(op.path),
          clone(getAt(doc, parsePointer(requireFrom(op)), requireFrom(op))),
        );
        break;
      case 'test':
        if (!jsonEqual(getAt(doc, parsePointer(op.path), op.path), op.value)) {
          throw new ApiError(
            422,
            'Invalid',
            `the server rejected our request due to an error in our request: testing value ${op.path} failed`,
          );
        }
        break;
      default:
        throw new ApiError(400, 'BadRequest', `unknown json patch operation "${String(raw.op)}"`);
    }
  }
  return doc;
}

function requireFrom(op: JsonPatchOp): string {
  if (typeof op.from !== 'string')
    throw new ApiError(400, 'BadRequest', `json patch "${op.op}" needs "from"`);
  return op.from;
}

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new ApiError(400, 'BadRequest', `json pointer "${p}" must start with /`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function missing(path: string): ApiError {
  return new ApiError(
    422,
    'Invalid',
    `the server rejected our request due to an error in our request: path ${path} does not exist`,
  );
}

function getAt(doc: unknown, path: string[], text: string): unknown {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      const i = Number(seg);
      if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw missing(text);
      cur = cur[i];
    } else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) cur = cur[seg];
    else throw missing(text);
  }
  return cur;
}

function addAt(doc: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(doc, path.slice(0, -1), '/' + path.slice(0, -1).join('/'));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw missing('/' + path.join('/'));
    parent.splice(i, 0, value);
  } else if (isObject(parent)) parent[last] = value;
  else throw missing('/' + path.join('/'));
  return doc;
}

function removeAt(doc: unknown, path: string[]): { doc: unknown; value: unknown } {
  const text = '/' + path.join('/');
  if (path.length === 0) return { doc: undefined, value: doc };
  const parent = getAt(doc, path.slice(0, -1), text);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw missing(text);
    return { doc, value: parent.splice(i, 1)[0] };
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) {
    const value = parent[last];
    delete parent[last];
    return { doc, value };
  }
  throw missing(text);
}

const NAME_KEYED = new Set([
  'containers',
  'initContainers',
  'ephemeralContainers',
  'volumes',
  'env',
  'imagePullSecrets',
]);
const FIXED_KEYS: Record<string, string> = {
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
};
const SET_LISTS = new Set(['finalizers']);

/** The merge key of a list field, or undefined when the list is replaced wholesale. */
function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  if (NAME_KEYED.has(field)) return 'name';
  if (field === 'ports')
    return items.some((i) => isObject(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  return FIXED_KEYS[field];
}

/** Strategic merge patch (see the module comment for the approximation). */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const rest = clone(patch);
    delete rest.$patch;
    return rest;
  }
  if (patch.$patch === 'delete') return undefined;
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v))
        out[field] = cur.filter((x) => !v.some((d) => jsonEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v)) {
      out[k] = mergeList(k, Array.isArray(cur) ? cur : [], v);
      continue;
    }
    const merged = strategicMergePatch(cur, v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

function mergeList(field: string, cur: unknown[], patch: unknown[]): unknown[] {
  if (SET_LISTS.has(field)) {
    const out = clone(cur);
    for (const x of patch) if (!out.some((y) => jsonEqual(x, y))) out.push(clone(x));
    return out;
  }
  const key = mergeKeyFor(field, [...cur, ...patch]);
  if (!key || !patch.every(isObject))
    return patch.filter((x) => !(isObject(x) && x.$patch === 'replace')).map(clone);
  if (patch.some((x) => isObject(x) && x.$patch === 'replace')) {
    return patch.filter((x) => !(isObject(x) && x.$patch === 'replace')).map(clone);
  }
  const out = cur.map(clone);
  for (const item of patch as JsonObject[]) {
    const idx = out.findIndex((x) => isObject(x) && jsonEqual(x[key], item[key]));
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item);
    else out.push(strategicMergePatch({}, item));
  }
  return out;
}
