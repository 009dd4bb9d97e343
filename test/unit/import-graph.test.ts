import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import madge from 'madge';
import { beforeAll, describe, expect, it } from 'vitest';

// The server's layers point one way (see docs/architecture.md): a circle, between two files or
// between two folders, means some layer reaches back up and the picture no longer holds.
const SERVER = fileURLToPath(new URL('../../server', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

/** The layer a server file belongs to: its top folder (engine, store, ...) or, at the root, its name. */
const layerOf = (file: string): string => (file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, ''));

let graph: Record<string, string[]>;
let circles: string[][];

beforeAll(async () => {
  // Type-only imports count: a type that points back up is as much a knot for a reader as a value.
  const result = await madge(SERVER, { fileExtensions: ['ts'], tsConfig: TSCONFIG });
  graph = result.obj();
  circles = result.circular();
});

/** Every import of a file under `from` into a file under one of `into`, as "importer -> imported". */
function importsBetween(from: string, into: (file: string) => boolean): string[] {
  return Object.entries(graph).flatMap(([file, deps]) =>
    file.startsWith(from) ? deps.filter(into).map((dep) => `${file} -> ${dep}`) : [],
  );
}

/** Circles in the graph of layers (an edge wherever a file of one imports a file of another), as "a -> b -> a". */
function layerCircles(): string[] {
  const edges = new Map<string, Set<string>>();
  for (const [file, deps] of Object.entries(graph)) {
    for (const dep of deps) {
      const [a, b] = [layerOf(file), layerOf(dep)];
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
  }
  const found: string[][] = [];
  const visit = (node: string, path: string[]): void => {
    for (const next of edges.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at !== -1) found.push([...path.slice(at), next]);
      else visit(next, [...path, next]);
    }
  };
  for (const start of edges.keys()) visit(start, [start]);
  return [...new Set(found.map((circle) => circle.join(' -> ')))];
}

describe('the import graph of server/', () => {
  it('reads every server file (the resolver understands the imports)', () => {
    expect(Object.keys(graph)).toContain('app.ts');
    expect(graph['app.ts']).toContain('engine/engine.ts');
  });

  it('has no import circle between files', () => {
    expect(circles.map((circle) => [...circle, circle[0]].join(' -> '))).toEqual([]);
  });

  it('has no circle between layers (folders, and the modules at the root)', () => {
    expect(layerCircles()).toEqual([]);
  });

  it('keeps the domain (executions/) free of every other part of the server', () => {
    expect(importsBetween('executions/', (dep) => !dep.startsWith('executions/'))).toEqual([]);
  });

  it('keeps the engine free of the jobs it runs and of the stores behind the storage interface', () => {
    expect(importsBetween('engine/', (dep) => dep.startsWith('jobs/'))).toEqual([]);
    expect(importsBetween('engine/', (dep) => dep.startsWith('store/') && dep !== 'store/store.ts')).toEqual([]);
  });

  it('leaves GraphQL to its boundary: the domain, engine, jobs, services, stores and lib never reach it', () => {
    const below = ['executions/', 'engine/', 'jobs/', 'services/', 'store/', 'lib/'];
    const graphqlImport = /from '(graphql|graphql-yoga|graphql-ws|@pothos\/[^/']+|@graphql-yoga\/(?!subscription')[^/']+|@escape\.tech\/[^/']+)(\/[^']*)?'/;
    const direct = new Set(Object.keys(graph).filter((file) => graphqlImport.test(readFileSync(join(SERVER, file), 'utf8'))));
    /** The first path from `file` to a file that imports GraphQL, or null. */
    const pathToGraphql = (file: string, seen = new Set<string>()): string[] | null => {
      if (direct.has(file)) return [file];
      seen.add(file);
      for (const dep of graph[file] ?? []) {
        if (seen.has(dep)) continue;
        const rest = pathToGraphql(dep, seen);
        if (rest) return [file, ...rest];
      }
      return null;
    };
    const offenders = Object.keys(graph)
      .filter((file) => below.some((b) => file.startsWith(b)))
      .map((file) => pathToGraphql(file)?.join(' -> '))
      .filter(Boolean);
    expect(offenders).toEqual([]);
  });

  it('keeps the resolvers on the services: no schema file reads the store itself', () => {
    // Types from store/ are fine; a call through ctx.store skips the checks and workflows of services/.
    const reads = Object.keys(graph)
      .filter((file) => file.startsWith('schema/'))
      .flatMap((file) =>
        readFileSync(join(SERVER, file), 'utf8')
          .split('\n')
          .map((line, i) => (/\b(ctx|context)\.store\b/.test(line) ? `${file}:${i + 1}: ${line.trim()}` : null))
          .filter((hit): hit is string => hit !== null),
      );
    expect(reads).toEqual([]);
  });
});
