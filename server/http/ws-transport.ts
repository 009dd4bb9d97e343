// graphql-ws on a ws WebSocketServer: graphql-ws's own useServer, made lighter per socket, because
// an idle watcher should cost little (thousands are normal). The differences: one keep-alive timer
// for all sockets instead of an interval and closures per socket, shared listeners, and the upgrade
// request is not kept for the socket's lifetime (only its headers and remote address are).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * A keep-alive round is cut in slices this long: each slice pings the sockets of its slot. Short
 * slices keep each burst of pings small (10,000 sockets over 10 s: 20 pings, about half a
 * millisecond, every 20 ms, rather than 200 pings and 5 ms of writes every 200 ms that a cancel
 * arriving then would wait behind).
 */
const SLICE_MS = 20;

/** What graphql-ws hands the hooks as `ctx.extra`. */
export interface WsExtra {
  socket: WebSocket;
  /** The upgrade request's headers and remote address (the request itself is let go). */
  request: IncomingMessage;
  /** The connection's TCP socket (the fan-out corks it to batch the frames of one turn). */
  tcp: Socket;
}

/** Serves graphql-transport-ws on `wss`; `dispose()` closes every socket with 1001 Going Away and waits for the clients. */
export function serveGraphqlWs(options: ServerOptions<Record<string, unknown> | undefined, WsExtra>, wss: WebSocketServer, keepAliveMs: number): { dispose(): Promise<void> } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  // A socket that did not answer the last ping by the next one is gone. The pings of one round are
  // spread over the round in slices: 10,000 sockets pinged at once would stall the event loop for
  // every other request (a cancel, a query) for as long as 10,000 socket writes take.
  // Each socket gets a slot when it connects and is pinged at that slot's tick of every round, so it
  // has exactly one round (keepAliveMs) to answer, whatever connects or leaves meanwhile. The timer
  // runs only while some socket is open.
  const unanswered = new WeakSet<WebSocket>();
  const slices = Math.max(1, Math.round(keepAliveMs / SLICE_MS));
  const slots = Array.from({ length: slices }, () => new Set<WebSocket>());
  let nextSlot = 0;
  let tick = 0;
  let open = 0;
  let keepAlive: NodeJS.Timeout | null = null;
  const ping = (): void => {
    for (const socket of slots[tick++ % slices]!) {
      if (socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  };
  const opened = (): Set<WebSocket> => {
    if (open++ === 0) {
      keepAlive = setInterval(ping, keepAliveMs / slices);
      keepAlive.unref();
    }
    return slots[nextSlot++ % slices]!;
  };
  const closed = (slot: Set<WebSocket>, socket: WebSocket): void => {
    slot.delete(socket);
    if (--open === 0 && keepAlive) {
      clearInterval(keepAlive);
      keepAlive = null;
    }
  };
  function onPong(this: WebSocket): void {
    unanswered.delete(this);
  }
  // As useServer does: a socket error closes the socket (its subscriptions are then released).
  function onError(this: WebSocket): void {
    this.close(CloseCode.InternalServerError, 'Internal server error');
  }

  wss.on('connection', (socket, request) => {
    socket.once('error', onError);
    socket.on('pong', onPong);
    const slot = opened();
    slot.add(socket);
    const light = { headers: request.headers, socket: { remoteAddress: request.socket.remoteAddress } } as unknown as IncomingMessage;
    const graphqlWsClosed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            handle(String(data)).catch(() => socket.close(CloseCode.InternalServerError, 'Internal server error'));
          }),
      },
      { socket, request: light, tcp: request.socket },
    );
    socket.once('close', (code, reason) => {
      closed(slot, socket);
      void graphqlWsClosed(code, String(reason));
    });
  });

  return {
    async dispose() {
      if (keepAlive) clearInterval(keepAlive);
      keepAlive = null;
      for (const socket of wss.clients) socket.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
