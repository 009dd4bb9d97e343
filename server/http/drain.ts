import type { Server, ServerResponse } from 'node:http';

/** The requests in flight on an HTTP server, so that a shutdown can let them finish. */
export interface RequestTracker {
  /** Requests whose response has not closed yet. */
  readonly inFlight: number;
  /**
   * Stops accepting connections, ends event streams (SSE subscriptions: their clients reconnect
   * elsewhere), waits at most `timeoutMs` for the other requests in flight, then closes every
   * connection left. Resolves with how many requests were cut off.
   */
  drain(timeoutMs: number): Promise<number>;
}

function isEventStream(res: ServerResponse): boolean {
  return String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');
}

/** Starts counting the server's requests (call it before the server listens). */
export function trackRequests(server: Server): RequestTracker {
  const open = new Set<ServerResponse>();
  let draining = false;
  let settle: (() => void) | null = null;
  // Ahead of the app's own handler, so a request is counted before anything answers it.
  server.prependListener('request', (_req, res: ServerResponse) => {
    open.add(res);
    // A request that arrives on a kept-alive connection during the drain is served, and its
    // connection then closed, so the client opens its next one elsewhere.
    if (draining && !res.headersSent) res.setHeader('connection', 'close');
    res.once('close', () => {
      open.delete(res);
      if (!draining) return;
      server.closeIdleConnections();
      if (open.size === 0) settle?.();
    });
  });
  return {
    get inFlight() {
      return open.size;
    },
    async drain(timeoutMs) {
      draining = true;
      if (server.listening) server.close();
      server.closeIdleConnections();
      for (const res of open) if (isEventStream(res)) res.destroy();
      if (open.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          settle = resolve;
          timer = setTimeout(resolve, timeoutMs);
        });
        clearTimeout(timer);
      }
      const cutOff = open.size;
      server.closeAllConnections();
      return cutOff;
    },
  };
}
