// The house's rules (docs/architecture.md), kept by the suite: main.ts reads as the list
// of features (at most 120 lines), no agent/ file passes 300 lines, and no module of
// agent/ imports itself through others (type-only imports count: a shared type lives
// with the contract that owns it, not in one of its users).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../agent/paths.js';

const AGENT = join(PACKAGE_ROOT, 'agent');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').length - 1;

/** Relative imports and re-exports of each file, as files. */
export function importGraph(files: string[]): Map<string, string[]> {
  const spec = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?(?:from\s*)?['"](\.[^'"]+)['"]/g;
  return new Map(files.map((f) => [f, [...readFileSync(f, 'utf8').matchAll(spec)].map((m) => normalize(join(dirname(f), m[1]!.replace(/\.js$/, '.ts'))))]));
}

/** Every strongly connected group of more than one module (Tarjan's algorithm): each is a cycle. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) out.push(group);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('main.ts is at most 120 lines and no agent/ file passes 300', () => {
  assert.ok(lines(join(AGENT, 'main.ts')) <= 120, `agent/main.ts: ${lines(join(AGENT, 'main.ts'))} lines`);
  const long = sources(AGENT)
    .filter((f) => lines(f) > 300)
    .map((f) => `${relative(PACKAGE_ROOT, f)}: ${lines(f)} lines`);
  assert.deepEqual(long, []);
});

test('no import cycles in agent/', () => {
  const found = cycles(importGraph(sources(AGENT))).map((group) => group.map((f) => relative(PACKAGE_ROOT, f)).join(' → '));
  assert.deepEqual(found, []);
});

test('the cycle check finds a cycle, type-only imports included', () => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(
    cycles(graph).map((g) => g.sort()),
    [['a.ts', 'b.ts', 'c.ts']],
  );
  // The import grammar: the bus and the counter as they were (a type each way).
  const bus = join(AGENT, 'bus.ts');
  const edges = importGraph([bus]).get(bus)!;
  assert.ok(edges.includes(join(AGENT, 'track', 'index.ts')), 'a type-only import is an edge');
});
