// The fan-out's graphql-ws sink: frames sent in one burst leave together, and what waits counts as buffered.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SocketSink } from '../../server/streams/socket-sink.ts';

let server: Server | null = null;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = null;
});

it('frames sent in one burst wait corked (counted in bufferedAmount) and all arrive, in order, after it', async () => {
  server = createServer();
  const wss = new WebSocketServer({ server });
  const accepted = new Promise<{ ws: WebSocket; tcp: Socket }>((resolve) => wss.on('connection', (ws, req) => resolve({ ws, tcp: req.socket })));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const received: string[] = [];
  const all = new Promise<void>((resolve) => client.on('message', (data) => received.push(String(data)) === 5 && resolve()));
  const { ws, tcp } = await accepted;
  const sink = new SocketSink(ws, tcp);
  for (let i = 0; i < 5; i++) sink.send(`frame ${i} `.padEnd(1000, '~'));
  // Nothing written yet: the five frames wait in the socket, and the fan-out sees them as buffered.
  expect(tcp.writableCorked).toBe(1);
  expect(sink.bufferedAmount).toBeGreaterThanOrEqual(5000);
  await all;
  expect(tcp.writableCorked).toBe(0);
  expect(received.map((r) => r.slice(0, 8))).toEqual(['frame 0 ', 'frame 1 ', 'frame 2 ', 'frame 3 ', 'frame 4 ']);
  client.terminate();
  wss.close();
});
