import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** Answers /health or /ready: 200 once every probe answers, else 503 naming those that did not. */
export async function answerHealth(res: ServerResponse, probes: Record<string, () => Promise<void>>, log: Logger): Promise<void> {
  const names = Object.keys(probes);
  const results = await Promise.allSettled(names.map((name) => probes[name]!()));
  const down = names.filter((_, i) => results[i]!.status === 'rejected');
  if (down.length === 0) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  results.forEach((result, i) => {
    if (result.status === 'rejected') log.warn({ err: result.reason }, `health check: ${names[i]} did not answer`);
  });
  const body = { status: 'unavailable', ...Object.fromEntries(down.map((name) => [name, 'down'])) };
  res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
