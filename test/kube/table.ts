/**
 * `meta.k8s.io/v1` Table responses, which kubectl asks for (`Accept: ...;as=Table`) on get and
 * list. Columns follow kubectl's defaults for pods (NAME, READY, STATUS, RESTARTS, AGE) and
 * StatefulSets (NAME, READY, AGE); other resources get NAME and AGE.
 */
import type { ResourceType } from './resources.js';
import { isObject, type JsonObject, type KubeObject } from './types.js';

/** True when an Accept header asks for a Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => /;\s*as=Table/.test(part) && /g=meta\.k8s\.io/.test(part));
}

/** Human age the way kubectl prints it (`45s`, `3m`, `5h`, `2d`). */
export function age(nowMs: number, since: string | undefined): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((nowMs - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

interface Column {
  name: string;
  type: string;
  format?: string;
  cell: (o: KubeObject) => string | number;
}

function columns(t: ResourceType, nowMs: number): Column[] {
  const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name ?? '' };
  const ageCol: Column = {
    name: 'Age',
    type: 'string',
    cell: (o) => age(nowMs, o.metadata.creationTimestamp),
  };
  if (t.group === '' && t.resource === 'pods') {
    const statuses = (o: KubeObject) =>
      ((isObject(o.status) ? o.status.containerStatuses : undefined) ?? []) as {
        ready?: boolean;
        restartCount?: number;
        state?: { waiting?: { reason?: string } };
      }[];
    const containers = (o: KubeObject) =>
      ((isObject(o.spec) ? o.spec.containers : undefined) ?? []) as unknown[];
    return [
      name,
      {
        name: 'Ready',
        type: 'string',
        cell: (o) => `${statuses(o).filter((c) => c.ready).length}/${containers(o).length}`,
      },
      {
        name: 'Status',
        type: 'string',
        cell: (o) => {
          if (o.metadata.deletionTimestamp) return 'Terminating';
          const waiting = statuses(o).find((c) => c.state?.waiting?.reason)?.state?.waiting?.reason;
          return waiting ?? String((isObject(o.status) ? o.status.phase : undefined) ?? 'Pending');
        },
      },
      {
        name: 'Restarts',
        type: 'integer',
        cell: (o) => statuses(o).reduce((n, c) => n + (c.restartCount ?? 0), 0),
      },
      ageCol,
    ];
  }
  if (t.group === 'apps' && t.resource === 'statefulsets') {
    return [
      name,
      {
        name: 'Ready',
        type: 'string',
        cell: (o) => {
          const st = (isObject(o.status) ? o.status : {}) as { readyReplicas?: number };
          const spec = (isObject(o.spec) ? o.spec : {}) as { replicas?: number };
          return `${st.readyReplicas ?? 0}/${spec.replicas ?? 1}`;
        },
      },
      ageCol,
    ];
  }
  return [name, ageCol];
}

/**
 * A Table of `items`. `includeObject` is kubectl's query parameter: `None` omits the objects,
 * `Object` embeds them whole, anything else embeds PartialObjectMetadata.
 */
export function toTable(
  t: ResourceType,
  items: KubeObject[],
  listMeta: JsonObject,
  nowMs: number,
  includeObject: string | null,
): JsonObject {
  const cols = columns(t, nowMs);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.name,
      priority: 0,
    })),
    rows: items.map((o) => {
      const row: JsonObject = { cells: cols.map((c) => c.cell(o)) };
      if (includeObject === 'Object') row.object = o;
      else if (includeObject !== 'None') {
        row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
      }
      return row;
    }),
  };
}
