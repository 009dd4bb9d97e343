// The compiled server as a real child process: probes, and what SIGTERM/SIGINT do. Each step waits
// on what the process prints or answers, never on time.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { deferCleanup, siteForTest } from '../helpers/cleanup.ts';
import { startBuiltServer } from '../helpers/built-server.ts';
import { createClient } from 'graphql-ws';
import { collect, JOB_PROGRESS, START_CRAWL, type EventPayload } from '../helpers/app.ts';
import { TEST_REDIS_URL } from '../helpers/cluster.ts';
import { freshDatabase } from '../helpers/stores.ts';

async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function status(url: string): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/**
 * A GraphQL POST whose body is sent in two halves: until `finish()` the request is in flight on the
 * server. Resolves `response` with the status and body once the server answers.
 */
function heldRequest(url: string): { sent: Promise<void>; finish(): void; response: Promise<{ status: number; body: string }> } {
  const body = JSON.stringify({ query: '{ activeExecutions { id } }' });
  const half = Math.floor(body.length / 2);
  let sent!: () => void;
  const sentPromise = new Promise<void>((resolve) => (sent = resolve));
  const req = http.request(`${url}/graphql`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  req.write(body.slice(0, half), () => sent());
  return { sent: sentPromise, finish: () => req.end(body.slice(half)), response };
}

/** A graphql-ws connection (raw, to see the close code), acknowledged and subscribed to executionChanged. */
async function subscriber(url: string): Promise<{ closed: Promise<number> }> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve();
    });
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { executionChanged { id status } }' } }));
  return { closed };
}

const stopping = /"msg":"stopping: draining/;

/** Waits until the server counts `n` requests in flight besides the scrape asking (so it has read the held one). */
async function inFlight(url: string, n: number): Promise<void> {
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (new RegExp(`^sluice_http_requests_in_flight ${n + 1}$`, 'm').test(text)) return;
  }
}

describe('the built server (node dist/server/main.js)', () => {
  it('answers /livez, /readyz, /health and /ready, on PostgreSQL and Redis; a dropped database turns /readyz and /metrics down, not the process', async () => {
    const db = await freshDatabase();
    deferCleanup(() => db.drop());
    const server = await startBuiltServer({ DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, SLUICE_REDIS_PREFIX: `sluice-test-${randomUUID().slice(0, 8)}:` });
    for (const path of ['/livez', '/readyz', '/health', '/ready']) {
      expect(await status(`${server.url}${path}`), path).toEqual({ status: 200, body: { status: 'ok' } });
    }
    // The bundle crawls (page-pool worker threads, PostgreSQL, Redis pub/sub) to the end.
    const site = await siteForTest({ pages: 3 });
    const { startCrawl } = await gql(server.url, START_CRAWL, { input: { url: `${site.url}/` } });
    const client = createClient({ url: `${server.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    deferCleanup(() => client.dispose());
    const events = collect<EventPayload>(client, JOB_PROGRESS, { id: startCrawl.id }, 'jobProgress');
    await events.done;
    expect(events.items.at(-1)).toMatchObject({ status: 'SUCCEEDED', progress: { pagesFetched: 3 } });

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^sluice_build_info\{version="[^"]+",node="v\d+\.\d+\.\d+",commit="[^"]+"\} 1$/m);

    await db.drop();
    expect(await status(`${server.url}/readyz`)).toEqual({ status: 503, body: { status: 'unavailable', database: 'down' } });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(500);
    expect(await status(`${server.url}/livez`)).toEqual({ status: 200, body: { status: 'ok' } });
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('crawls when started with V8 options (node --max-old-space-size=... --expose-gc dist/server/main.js): its page workers inherit them', async () => {
    const site = await siteForTest({ pages: 3 });
    const server = await startBuiltServer({}, undefined, ['--max-old-space-size=512', '--expose-gc']);
    const { startCrawl } = await gql(server.url, START_CRAWL, { input: { url: `${site.url}/` } });
    const client = createClient({ url: `${server.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    deferCleanup(() => client.dispose());
    const events = collect<EventPayload>(client, JOB_PROGRESS, { id: startCrawl.id }, 'jobProgress');
    await events.done;
    expect(events.items.filter((e) => e.type === 'LOG' && /^failed /.test(e.message ?? '')).map((e) => e.message)).toEqual([]);
    expect(events.items.at(-1)).toMatchObject({ status: 'SUCCEEDED', progress: { pagesFetched: 3 } });
  });

  it('SIGTERM drains: stops accepting, finishes the request in flight, closes WebSockets with 1001, releases the running crawl, exits 0', async () => {
    const site = await siteForTest({ pages: 200, delayMs: 100 });
    const server = await startBuiltServer();
    const { startCrawl } = await gql(server.url, START_CRAWL, { input: { url: `${site.url}/`, maxPages: 200 } });
    await site.waitFor(() => site.requestCount() > 0); // RUNNING: its code is fetching
    const ws = await subscriber(server.url);
    const held = heldRequest(server.url);
    await held.sent;
    await inFlight(server.url, 1);

    server.signal('SIGTERM');
    await server.line(stopping);
    await expect(fetch(`${server.url}/livez`)).rejects.toThrow(); // no longer accepting connections
    expect(await ws.closed).toBe(1001);
    held.finish();
    const answer = await held.response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).data.activeExecutions.map((e: { id: string }) => e.id)).toContain(startCrawl.id);
    expect(await server.exited).toBe(0);

    // Released, not lost: the next start on the same data resumes it as attempt 2.
    const again = await startBuiltServer({}, server.dataDir);
    const { execution } = await gql(again.url, 'query ($id: ID!) { execution(id: $id) { status attempt } }', { id: startCrawl.id });
    expect(execution.attempt).toBe(2);
    expect(['QUEUED', 'RUNNING']).toContain(execution.status);
  });

  it('/readyz answers 503 from the moment a stop begins; a second signal exits at once', async () => {
    // A long delay before it stops accepting: the node keeps answering, so its 503 can be seen.
    const server = await startBuiltServer({ SLUICE_SHUTDOWN_DELAY_MS: '600000', SLUICE_SHUTDOWN_TIMEOUT_MS: '900000' });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    server.signal('SIGINT');
    await server.line(stopping);
    expect(await status(`${server.url}/readyz`)).toEqual({ status: 503, body: { status: 'shutting down' } });
    expect(await status(`${server.url}/livez`)).toEqual({ status: 200, body: { status: 'ok' } });
    server.signal('SIGTERM');
    expect(await server.exited).toBe(128 + 15);
    await server.line(/second signal: exiting at once/);
  });

  it('a stop that cannot finish within SLUICE_SHUTDOWN_TIMEOUT_MS exits 1', async () => {
    const server = await startBuiltServer({ SLUICE_SHUTDOWN_TIMEOUT_MS: '300', SLUICE_DRAIN_TIMEOUT_MS: '600000' });
    const held = heldRequest(server.url);
    const cutOff = held.response.then(
      () => 'answered',
      () => 'cut off',
    );
    await held.sent;
    await inFlight(server.url, 1);
    server.signal('SIGTERM');
    expect(await server.exited).toBe(1);
    await server.line(/stopping took longer than 300 ms/);
    expect(await cutOff).toBe('cut off'); // its connection went with the process
  });
});
