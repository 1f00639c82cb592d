/**
 * The mock adapter and the mock server talk only through the wire module: no import cycle
 * among the mock's modules, and no module of one side calls into the other to talk.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HandshakeError, MessageType } from '../../src/adapters/index.js';
import { MockAdapter, MockServer } from '../../src/mocks/index.js';
import { rejection } from '../../src/testing/rejection.js';

const MOCKS = join(import.meta.dirname, '../../src/mocks');

interface Edge {
  readonly to: string;
  readonly typeOnly: boolean;
}

/** The relative imports of each module of src/mocks, by file name. */
function importGraph(): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  for (const file of readdirSync(MOCKS).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(join(MOCKS, file), 'utf8');
    const edges: Edge[] = [];
    for (const match of source.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'\.\/([\w-]+)\.js';/gms)) {
      edges.push({ to: `${match[3]}.ts`, typeOnly: match[2] !== undefined });
    }
    graph.set(file, edges);
  }
  return graph;
}

/** A cycle through `graph` (following type-only imports too), or undefined. */
function findCycle(graph: Map<string, Edge[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'visiting');
    path.push(node);
    for (const edge of graph.get(node) ?? []) {
      const cycle = visit(edge.to);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('the mock wire', () => {
  it('leaves no import cycle among the mock modules, type imports included', () => {
    const graph = importGraph();
    expect(graph.get('mock-adapter.ts')?.length).toBeGreaterThan(0);
    expect(findCycle(graph)).toBeUndefined();
  });

  it('the adapter reaches no server module at run time, and the server side no adapter module: only wire.ts', () => {
    const graph = importGraph();
    const runtime = (file: string): string[] => (graph.get(file) ?? []).filter((e) => !e.typeOnly).map((e) => e.to);
    expect(runtime('mock-adapter.ts')).toContain('wire.ts');
    expect(runtime('mock-adapter.ts')).not.toContain('mock-server.ts');
    expect(runtime('mock-adapter.ts')).not.toContain('mock-server-connection.ts');
    expect(runtime('mock-server-connection.ts')).not.toContain('mock-adapter.ts');
    expect(runtime('mock-server.ts')).toContain('wire.ts');
  });

  it('finds a cycle when there is one (the check itself can fail)', () => {
    const graph = new Map<string, Edge[]>([
      ['a.ts', [{ to: 'b.ts', typeOnly: false }]],
      ['b.ts', [{ to: 'a.ts', typeOnly: true }]],
    ]);
    expect(findCycle(graph)).toEqual(['a.ts', 'b.ts', 'a.ts']);
  });

  it('connects an adapter to any server listening on the wire, and to nothing else', async () => {
    const server = new MockServer();
    try {
      const adapter = new MockAdapter((url) => (url.host === 'mock.invalid' ? server : undefined));
      const [, connection] = await Promise.all([adapter.dial(server.url), server.accept()]);
      await connection.sendText('over the wire');
      expect(await adapter.read()).toEqual({ type: MessageType.Text, data: 'over the wire' });
      expect(adapter.connection).toBe(connection);
      expect(await rejection(adapter.dial('ws://elsewhere.invalid/'))).toBeInstanceOf(HandshakeError);
      const impostor = new MockAdapter(() => ({ url: 'ws://impostor.invalid/' }));
      expect(((await rejection(impostor.dial('ws://impostor.invalid/'))) as Error).message).toMatch(/not a MockServer/);
    } finally {
      await server.stop();
    }
  });
});
