// bench:fanout's subscribers, in a process of their own (so the server's CPU figures are its own):
// raw graphql-transport-ws sockets, each with one or more subscriptions, driven over IPC by bench/fanout.ts.
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

/** One socket and what it subscribes to. */
export interface SocketPlan {
  subscriptions: { query: string; variables: Record<string, unknown>; field: string; completes: boolean }[];
}

export type ClientRequest =
  | { id: number; cmd: 'open'; url: string; sockets: SocketPlan[] }
  | { id: number; cmd: 'stream' }
  | { id: number; cmd: 'done'; timeoutMs: number; extra: number }
  | { id: number; cmd: 'close' };

export interface ClientStats {
  deliveries: number;
  lags: number[];
  firstAt: number;
  lastReceipt: number;
  cpuMs: number;
  errors: string[];
  counts: number[];
}

interface Sub {
  field: string;
  completes: boolean;
  ready: boolean;
  completed: boolean;
  streamed: number;
}

const subs: Sub[] = [];
/** Subscription ids as graphql-ws clients make them (UUIDs), not small integers: a server keys its
 * subscriptions by id, and an object keyed by small integers is an array to V8 (kilobytes each). */
const byId = new Map<string, Sub>();
const sockets: WebSocket[] = [];
let streaming = false;
let readyCount = 0;
let toComplete = 0;
let doneCount = 0;
let deliveries = 0;
let firstAt = Infinity;
let lastReceipt = 0;
let cpu0 = process.cpuUsage();
const lags: number[] = [];
const errors: string[] = [];
let waiters: (() => void)[] = [];
const notify = () => waiters.splice(0).forEach((w) => w());

function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const check = () => {
      if (predicate()) {
        clearTimeout(timer);
        resolve(true);
      } else waiters.push(check);
    };
    check();
  });
}

function onMessage(message: { id?: string; type: string; payload?: any }): void {
  const sub = byId.get(message.id ?? '');
  if (!sub) return;
  if (message.type === 'next') {
    const data = message.payload?.data?.[sub.field] as { at?: string } | undefined;
    if (!data) {
      if (errors.length < 5) errors.push(JSON.stringify(message.payload?.errors ?? message.payload));
      return;
    }
    if (!sub.ready) {
      sub.ready = true;
      readyCount++;
      notify();
      if (!streaming) return;
    }
    if (!streaming) return;
    const now = Date.now();
    deliveries++;
    sub.streamed++;
    lastReceipt = now;
    if (data.at) {
      const at = Date.parse(data.at);
      lags.push(now - at);
      if (at < firstAt) firstAt = at;
    }
  } else if (message.type === 'complete' || message.type === 'error') {
    if (message.type === 'error' && errors.length < 5) errors.push(JSON.stringify(message.payload));
    if (!sub.completed && sub.completes) doneCount++;
    sub.completed = true;
    notify();
  }
}

function connect(url: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send('{"type":"connection_init","payload":{}}'));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: string; type: string; payload?: unknown };
      if (message.type === 'connection_ack') resolve(socket);
      else if (message.type === 'ping') socket.send('{"type":"pong"}');
      else onMessage(message);
    });
  });
}

async function open(url: string, plans: SocketPlan[]): Promise<number> {
  for (let first = 0; first < plans.length; first += 200) {
    const batch = plans.slice(first, first + 200);
    const opened = await Promise.all(batch.map(() => connect(url)));
    opened.forEach((socket, i) => {
      sockets.push(socket);
      for (const s of batch[i]!.subscriptions) {
        const id = randomUUID();
        // executionChanged sends nothing until something changes: ready once subscribed.
        const ready = s.field === 'executionChanged';
        const sub: Sub = { field: s.field, completes: s.completes, ready, completed: false, streamed: 0 };
        subs.push(sub);
        byId.set(id, sub);
        if (ready) readyCount++;
        if (s.completes) toComplete++;
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: s.query, variables: s.variables } }));
      }
    });
  }
  await waitFor(() => readyCount + errors.length >= subs.length, 600_000);
  return subs.length;
}

process.on('message', (r: ClientRequest) => {
  void (async () => {
    if (r.cmd === 'open') return reply(r.id, await open(r.url, r.sockets));
    if (r.cmd === 'stream') {
      streaming = true;
      cpu0 = process.cpuUsage();
      return reply(r.id, true);
    }
    if (r.cmd === 'done') {
      const completed = await waitFor(() => doneCount >= toComplete, r.timeoutMs);
      // Deliveries that complete nothing (executionChanged): a moment for the last ones.
      if (r.extra > 0) await waitFor(() => false, r.extra);
      const cpu = process.cpuUsage(cpu0);
      if (!completed) errors.push(`${toComplete - doneCount} of ${toComplete} subscriptions did not complete within ${r.timeoutMs} ms`);
      const stats: ClientStats = {
        deliveries,
        lags,
        firstAt,
        lastReceipt,
        cpuMs: (cpu.user + cpu.system) / 1000,
        errors,
        counts: [...new Set(subs.filter((s) => s.completes).map((s) => s.streamed))].slice(0, 5),
      };
      return reply(r.id, stats);
    }
    if (r.cmd === 'close') {
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((done) => {
              if (s.readyState === WebSocket.CLOSED) return done();
              s.once('close', () => done());
              s.terminate();
            }),
        ),
      );
      reply(r.id, true);
      process.exit(0);
    }
  })();
});

function reply(id: number, value: unknown): void {
  process.send!({ id, value });
}

process.send!({ url: 'clients' });
process.once('disconnect', () => process.exit(0));
void waiters;
waiters = [];
