// graphql-ws on a ws WebSocketServer: graphql-ws's own useServer, made lighter per socket, because
// an idle watcher should cost little (thousands are normal). The differences: one keep-alive timer
// for all sockets instead of an interval and closures per socket, shared listeners, and the upgrade
// request is not kept for the socket's lifetime (only its headers and remote address are).
import type { IncomingMessage } from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';

/** Each keep-alive round pings its sockets in this many slices. */
const KEEP_ALIVE_SLICES = 48;

/** What graphql-ws hands the hooks as `ctx.extra`. */
export interface WsExtra {
  socket: WebSocket;
  /** The upgrade request's headers and remote address (the request itself is let go). */
  request: IncomingMessage;
}

/** Serves graphql-transport-ws on `wss`; `dispose()` closes every socket with 1001 Going Away and waits for the clients. */
export function serveGraphqlWs(options: ServerOptions<Record<string, unknown> | undefined, WsExtra>, wss: WebSocketServer, keepAliveMs: number): { dispose(): Promise<void> } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  // A socket that did not answer the last ping by the next one is gone. The pings of one round are
  // spread over the round in slices: 10,000 sockets pinged at once would stall the event loop for
  // every other request (a cancel, a query) for as long as 10,000 socket writes take.
  // Each socket gets a slot when it connects and is pinged at that slot's tick of every round, so it
  // has exactly one round (keepAliveMs) to answer, whatever connects or leaves meanwhile.
  const unanswered = new WeakSet<WebSocket>();
  const slots = Array.from({ length: KEEP_ALIVE_SLICES }, () => new Set<WebSocket>());
  let nextSlot = 0;
  let tick = 0;
  const keepAlive = setInterval(() => {
    for (const socket of slots[tick++ % KEEP_ALIVE_SLICES]!) {
      if (socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  }, keepAliveMs / KEEP_ALIVE_SLICES);
  keepAlive.unref();
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
    const slot = slots[nextSlot++ % KEEP_ALIVE_SLICES]!;
    slot.add(socket);
    const light = { headers: request.headers, socket: { remoteAddress: request.socket.remoteAddress } } as unknown as IncomingMessage;
    const closed = server.opened(
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
      { socket, request: light },
    );
    socket.once('close', (code, reason) => {
      slot.delete(socket);
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      clearInterval(keepAlive);
      for (const socket of wss.clients) socket.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
