// Checks on a /graphql request before Yoga sees it: its size, which page (Origin) sent it, and, when
// the API is open to local callers, that it really is addressed to this machine (Host).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { classifyAddress } from '../jobs/crawl/address.ts';

/** True for localhost, *.localhost and loopback IP literals (brackets allowed). */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return classifyAddress(name) === 'loopback';
}

/** The host name of a Host header value ("127.0.0.1:4000", "[::1]:4000"), or null when malformed. */
function hostnameOf(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  return URL.parse(`http://${hostHeader}/`)?.hostname ?? null;
}

/**
 * Browser pages that may call the API: the page Sluice itself serves (same origin) and pages on
 * this machine (a Vite dev server). Any other site is refused: for an open local API it would be a
 * way in for every web page the user visits. Callers that are not browsers send no Origin.
 */
export function isAllowedOrigin(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  const url = URL.parse(origin);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return false;
  return url.host === hostHeader?.toLowerCase() || isLoopbackName(url.hostname);
}

/** The CORS answer for one request (the shape Yoga's `cors` option takes); false: no CORS headers. */
type CorsOptions = false | { origin: string[]; credentials: boolean; methods: string[]; allowedHeaders: string[] };

/** CORS for Yoga: only allowed origins get CORS headers (no credentials: the API uses bearer tokens, not cookies). */
export function corsFor(request: Request): CorsOptions {
  const origin = request.headers.get('origin') ?? undefined;
  if (!origin || !isAllowedOrigin(origin, request.headers.get('host') ?? undefined)) return false;
  return { origin: [origin], credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'x-graphql-yoga-csrf'] };
}

export interface GuardOptions {
  /** The API is open to local callers (no tokens): requests must be addressed to a loopback name. */
  open: boolean;
  maxBytes: number;
}

interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** Why a request or WebSocket upgrade is refused, or null when it may go on. */
export function refusal(req: IncomingMessage, options: Pick<GuardOptions, 'open'>): Refusal | null {
  const host = req.headers.host;
  // DNS rebinding: a web page whose own name now resolves to 127.0.0.1 would otherwise be same-origin with us.
  if (options.open && !isLoopbackName(hostnameOf(host) ?? '')) {
    return { status: 403, code: 'FORBIDDEN', message: 'this API is open to local callers only: address it as localhost or 127.0.0.1, or configure SLUICE_API_TOKENS' };
  }
  if (!isAllowedOrigin(req.headers.origin, host)) {
    return { status: 403, code: 'FORBIDDEN', message: `requests from web pages at ${req.headers.origin} are not allowed` };
  }
  return null;
}

/**
 * Answers a /graphql request that must not reach Yoga (403 for a foreign page or host, 413 for a
 * body over the cap, 411 for a POST body of unknown length) and returns true; else returns false.
 */
export function refuseRequest(req: IncomingMessage, res: ServerResponse, options: GuardOptions): boolean {
  const refused = refusal(req, options) ?? sizeRefusal(req, options.maxBytes);
  if (!refused) return false;
  // The body is not read; closing the connection stops the client from sending the rest.
  res.writeHead(refused.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message: refused.message, extensions: { code: refused.code } }] }));
  return true;
}

function sizeRefusal(req: IncomingMessage, maxBytes: number): Refusal | null {
  const length = req.headers['content-length'];
  if (length !== undefined) {
    if (Number(length) > maxBytes) {
      return { status: 413, message: `the request body is ${length} bytes; the limit is ${maxBytes}`, code: 'PAYLOAD_TOO_LARGE' };
    }
    return null;
  }
  // Node rejects a request with both headers; a chunked body would have to be counted while Yoga reads it.
  if (req.headers['transfer-encoding'] !== undefined) {
    return { status: 411, message: 'send the request body with a Content-Length header', code: 'LENGTH_REQUIRED' };
  }
  return null;
}
