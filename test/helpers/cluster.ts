// Helpers for tests and benchmarks with several nodes: a fresh PostgreSQL database, a Redis prefix of
// their own, in-process nodes, child-process nodes (server/main.ts) and a private redis-server.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { startTestApp, type TestApp, type TestAppOptions } from './app.ts';
import { freshDatabase } from './stores.ts';

/** The shared Redis the tests use; each test uses channels of its own (a unique prefix). */
export const TEST_REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Cluster {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  nodes: TestApp[];
  /** Starts an in-process node on port 0 of this cluster. */
  node(nodeId: string, overrides?: TestAppOptions): Promise<TestApp>;
  /** Stops the nodes (in parallel) and drops the database. */
  close(): Promise<void>;
}

/** A cluster with a fresh database and a unique Redis prefix; nodes are added with `node`. */
export async function createCluster(options: { redisUrl?: string } = {}): Promise<Cluster> {
  const db = await freshDatabase();
  const nodes: TestApp[] = [];
  const cluster: Cluster = {
    databaseUrl: db.url,
    redisUrl: options.redisUrl ?? TEST_REDIS_URL,
    redisPrefix: `sluice-test-${randomUUID().slice(0, 8)}:`,
    nodes,
    async node(nodeId, overrides = {}) {
      const t = await startTestApp({
        nodeId,
        databaseUrl: cluster.databaseUrl,
        redisUrl: cluster.redisUrl,
        redisPrefix: cluster.redisPrefix,
        ...overrides,
      });
      nodes.push(t);
      return t;
    },
    async close() {
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
      await db.drop();
    },
  };
  return cluster;
}

/** A node of the cluster as a real child process (server/main.ts), for kill -9. */
export interface ChildNode {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startChildNode(cluster: Pick<Cluster, 'databaseUrl' | 'redisUrl' | 'redisPrefix'>, nodeId: string, env: Record<string, string> = {}): Promise<ChildNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      DATABASE_URL: cluster.databaseUrl,
      REDIS_URL: cluster.redisUrl,
      SLUICE_REDIS_PREFIX: cluster.redisPrefix,
      SLUICE_NODE_ID: nodeId,
      SLUICE_ALLOW_PRIVATE_NETWORKS: 'true',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /listening on (http:\/\/[\d.:]+)/.exec(line);
    if (match) {
      lines.on('line', () => {}); // keep draining stdout
      return { child, url: match[1]!, exited, kill };
    }
  }
  await kill();
  throw new Error(`node ${nodeId} exited before it was listening`);
}

/** A free TCP port on 127.0.0.1 (free when asked; good enough for a private server in a test). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A private redis-server (no persistence) that a test may kill and start again on the same port. */
export interface PrivateRedis {
  url: string;
  port: number;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child = c;
      const lines = createInterface({ input: c.stdout! });
      for await (const line of lines) {
        if (line.includes('Ready to accept connections')) {
          lines.on('line', () => {});
          return;
        }
      }
      throw new Error('redis-server exited before it was ready');
    },
    async kill() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await exited;
    },
  };
  await redis.start();
  return redis;
}
