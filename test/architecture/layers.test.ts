/**
 * The layer rule of docs/architecture.md, checked on every import of every source file under src/
 * (static, dynamic and type-only; test files excluded): imports point down the layer order, engines
 * and platforms never import each other, nothing in src/ imports test/, and there is no import
 * cycle. Imports are read with TypeScript's own scanner (`ts.preProcessFile`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Rank of each top-level folder of src/: an import may only go to a lower rank, or stay in its own
 * folder. Same rank, different folder: allowed only where {@link PEERS} says so.
 */
export const LAYERS: Readonly<Record<string, number>> = {
  core: 0,
  plan: 1,
  runner: 2,
  probe: 2,
  api: 3,
  report: 3,
  engines: 4,
  platforms: 4,
  wiring: 5,
  cli: 6,
  operator: 6,
  dashboard: 6,
};

/** Same-rank imports that are allowed: the CLI includes the operator's command and manifests, and the dashboard. */
const PEERS: ReadonlySet<string> = new Set([
  'cli->operator',
  'cli->dashboard',
  'runner->probe',
  'probe->runner',
]);

/** Imports that point up and are tolerated for now, as `from -> to` (issue 10 allows two; there are none). */
const ALLOWED_UPWARD: ReadonlySet<string> = new Set([]);

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(): string[] {
  return readdirSync(join(ROOT, 'src'), { recursive: true })
    .map((f) => join('src', String(f)))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort();
}

function importsOf(file: string): Edge[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ from: file, to: normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts') }));
}

function layerOf(file: string): string | undefined {
  const [top, dir] = file.split('/');
  return top === 'src' ? dir : top;
}

const edges = sourceFiles().flatMap(importsOf);

test('every folder of src/ has a place in the layer order', () => {
  const folders = new Set(sourceFiles().map((f) => layerOf(f)!));
  const unplaced = [...folders].filter((f) => !(f in LAYERS) && !f.endsWith('.ts'));
  assert.deepEqual(unplaced, [], 'add new folders to LAYERS here and to docs/architecture.md');
});

test('imports point down the layers (engines and platforms never import each other)', () => {
  const wrong: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from)!;
    const b = layerOf(to)!;
    if (a === b) continue;
    const line = `${from} -> ${to}`;
    if (!to.startsWith('src/')) {
      wrong.push(`${line} (src/ imports outside src/)`);
      continue;
    }
    const ra = LAYERS[a];
    const rb = LAYERS[b];
    if (ra === undefined || rb === undefined) continue; // reported by the test above
    if (ra < rb && !ALLOWED_UPWARD.has(line)) wrong.push(`${line} (${a} is below ${b})`);
    if (ra === rb && !PEERS.has(`${a}->${b}`)) wrong.push(`${line} (${a} and ${b} are peers)`);
  }
  assert.deepEqual(wrong, [], 'move the code down, inject it, or wire it in src/wiring/');
});

test('there is no import cycle', () => {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  // Tarjan's strongly connected components; any component of two or more files is a cycle.
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of next.keys()) if (!idx.has(v)) visit(v);
  assert.deepEqual(cycles, []);
});

test('the checker sees imports: the composition root imports both engines and platforms', () => {
  const fromWiring = edges.filter((e) => layerOf(e.from) === 'wiring').map((e) => layerOf(e.to));
  assert.ok(fromWiring.includes('engines') && fromWiring.includes('platforms'));
});
