/**
 * Label and field selectors: the query-string syntax (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) and
 * the structured `LabelSelector` of specs (StatefulSet, PodDisruptionBudget).
 */
import { badRequest } from './errors.js';
import { isObject, type KubeObject, type LabelSelectorSpec } from './types.js';

/** One requirement of a label selector. */
export interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

/** A parsed selector: every requirement must hold. The empty selector matches everything. */
export type Selector = Requirement[];

/**
 * Parses the query-string label selector syntax. Throws a 400 ApiError naming the offending term
 * when it is malformed.
 */
export function parseLabelSelector(text: string | undefined): Selector {
  if (!text || !text.trim()) return [];
  const out: Selector = [];
  for (const term of splitTerms(text)) {
    const t = term.trim();
    if (!t) continue;
    const set = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      out.push({ key: set[1]!, op: set[2] as 'in' | 'notin', values: values.filter((v) => v !== '') });
      continue;
    }
    const cmp = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(t);
    if (cmp) {
      out.push({ key: cmp[1]!, op: cmp[2] === '!=' ? 'notin' : 'in', values: [cmp[3]!] });
      continue;
    }
    const not = /^!\s*([^\s!=(),]+)$/.exec(t);
    if (not) {
      out.push({ key: not[1]!, op: '!exists', values: [] });
      continue;
    }
    if (/^[^\s!=(),]+$/.test(t)) {
      out.push({ key: t, op: 'exists', values: [] });
      continue;
    }
    throw badRequest(`unable to parse requirement: invalid label selector term "${t}"`);
  }
  return out;
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  return terms;
}

/** Converts a spec `LabelSelector` to requirements. */
export function fromLabelSelector(sel: LabelSelectorSpec | undefined): Selector {
  const out: Selector = [];
  for (const [key, value] of Object.entries(sel?.matchLabels ?? {}))
    out.push({ key, op: 'in', values: [value] });
  for (const e of sel?.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const)[e.operator];
    out.push({ key: e.key, op, values: e.values ?? [] });
  }
  return out;
}

/** True when the labels satisfy every requirement. */
export function matchesLabels(sel: Selector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
      case 'exists':
        return has;
      case '!exists':
        return !has;
    }
  });
}

/** One field requirement: `path=value` or `path!=value`. */
export interface FieldRequirement {
  path: string[];
  value: string;
  negate: boolean;
}

/**
 * Parses a field selector (`metadata.name=x,status.phase!=Running`). Any dotted path is accepted;
 * the real server restricts the fields per resource, the fake does not.
 */
export function parseFieldSelector(text: string | undefined): FieldRequirement[] {
  if (!text || !text.trim()) return [];
  return text.split(',').map((term) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (!m) throw badRequest(`invalid field selector term "${term}": expected path=value or path!=value`);
    return { path: m[1]!.split('.'), value: m[3]!, negate: m[2] === '!=' };
  });
}

/** True when the object satisfies every field requirement (absent fields read as ""). */
export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => {
    let v: unknown = obj;
    for (const p of r.path) v = isObject(v) ? v[p] : undefined;
    const s = v === undefined || v === null ? '' : String(v);
    return r.negate ? s !== r.value : s === r.value;
  });
}
