import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { serveGraphqlWs } from '../../server/http/ws-transport.ts';
import { deferCleanup } from '../helpers/cleanup.ts';

// The keep-alive of Sluice's graphql-ws transport, on a real HTTP server and real sockets: a socket
// that answers pings stays, whatever connects and leaves around it; one whose pongs stop is cut off.

const KEEP_ALIVE_MS = 480;

/** A graphql-ws endpoint on a real HTTP server; both closed after the test. */
async function serve(): Promise<string> {
  const server = createServer();
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const ws = serveGraphqlWs({ schema: undefined as never }, wss, KEEP_ALIVE_MS);
  deferCleanup(async () => {
    await ws.dispose();
    await new Promise((resolve) => server.close(resolve));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const socket = new WebSocket(url, 'graphql-transport-ws', options);
  return new Promise((resolve, reject) => socket.once('open', () => resolve(socket)).once('error', reject));
}

const closed = (socket: WebSocket): Promise<number> => new Promise((resolve) => socket.once('close', (code) => resolve(code)));

describe('graphql-ws keep-alive', () => {
  it('keeps a socket that answers, while others connect and leave, and cuts off one that stops answering', async () => {
    const url = await serve();
    const steady = await connect(url);
    let steadyClosed = false;
    steady.once('close', () => (steadyClosed = true));
    let pings = 0;
    steady.on('ping', () => pings++);
    const deaf = await connect(url, { autoPong: false });
    const deafClosed = closed(deaf);

    // Churn: sockets connect and leave all the time, which must not shorten anyone's round.
    const churn = (async () => {
      for (let i = 0; i < 40; i++) {
        const s = await connect(url);
        await new Promise((resolve) => setTimeout(resolve, KEEP_ALIVE_MS / 16));
        s.close();
      }
    })();

    expect(await deafClosed).toBe(1006); // terminated: it never answered a ping
    await churn;
    expect(steadyClosed).toBe(false);
    expect(pings).toBeGreaterThanOrEqual(2);
    steady.close();
  });
});
