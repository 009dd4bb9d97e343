import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** Why this node is not taking traffic (null: it is, once its probes answer). */
export type NotReady = 'starting' | 'shutting down' | null;

export interface HealthOptions {
  /** Each is a dependency /readyz checks: it resolves when the dependency answers. */
  probes: Record<string, () => Promise<void>>;
  /** Read on every /readyz: 'shutting down' from the moment a stop begins. */
  notReady: () => NotReady;
  log: Logger;
}

type Route = (req: IncomingMessage, res: ServerResponse) => void;

function json(res: ServerResponse, status: number, body: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

/**
 * The probes: /livez answers as long as the process does (restart it when it does not); /readyz
 * answers 200 when this node should get traffic: started, not stopping, and every dependency
 * (database, Redis when configured) answering, else 503 naming what is down. /health and /ready
 * are the older names of the two.
 */
export function healthRoutes({ probes, notReady, log }: HealthOptions): Record<string, Route> {
  const livez: Route = (_req, res) => json(res, 200, { status: 'ok' });
  const readyz: Route = (_req, res) => void answerReady(res, probes, notReady, log);
  return { '/livez': livez, '/health': livez, '/readyz': readyz, '/ready': readyz };
}

async function answerReady(res: ServerResponse, probes: HealthOptions['probes'], notReady: HealthOptions['notReady'], log: Logger): Promise<void> {
  const before = notReady();
  if (before) return json(res, 503, { status: before });
  const names = Object.keys(probes);
  const results = await Promise.allSettled(names.map((name) => probes[name]!()));
  // A stop that began while the probes ran wins: a load balancer must not see 200 after it.
  const after = notReady();
  if (after) return json(res, 503, { status: after });
  const down = names.filter((_, i) => results[i]!.status === 'rejected');
  if (down.length === 0) return json(res, 200, { status: 'ok' });
  results.forEach((result, i) => {
    if (result.status === 'rejected') log.warn({ err: result.reason }, `readiness check: ${names[i]} did not answer`);
  });
  json(res, 503, { status: 'unavailable', ...Object.fromEntries(down.map((name) => [name, 'down'])) });
}
