// A graphql-ws connection as the fan-out writes to it: the frames one burst of work sends to a socket
// leave in one system call. A tab watches executionChanged and several jobProgress cards on one
// socket, and the events of many executions are often delivered in one run of the event loop's
// microtasks (a backlog of model tokens or crawl pages resolved together): one writev per socket and
// burst instead of one write per frame. The frames wait only until that run ends (process.nextTick),
// never for other I/O, and what waits counts in `bufferedAmount` at once, so congestion is seen as before.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Sink } from './member.ts';

const corked: Socket[] = [];
let flushing = false;

/** uncork() writes what waits in one writev (a socket destroyed meanwhile has nothing to write). */
function flush(): void {
  flushing = false;
  for (const socket of corked.splice(0)) socket.uncork();
}

/** Holds the writes to `socket` until the current run of callbacks and microtasks ends. */
function cork(socket: Socket): void {
  // ws corks around each frame and uncorks at once; between frames a socket corked is corked here.
  if (socket.writableCorked > 0) return;
  socket.cork();
  corked.push(socket);
  if (!flushing) {
    flushing = true;
    process.nextTick(flush);
  }
}

/** One per connection, shared by its subscriptions. */
export class SocketSink implements Sink {
  constructor(
    private readonly ws: WebSocket,
    private readonly tcp: Socket,
  ) {}

  send(data: string): void {
    if (this.ws.readyState === this.ws.OPEN) cork(this.tcp);
    this.ws.send(data);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}
