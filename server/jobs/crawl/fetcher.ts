import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import { abortReason, sleep } from '../../lib/abort.ts';
import {
  createGuardedLookup,
  findPrivateAddressError,
  isDisallowedAddress,
  literalIp,
  privateAddressMessage,
  type AddressRules,
} from './address.ts';
import type { CrawlLimits } from './input.ts';
import type { HostGate } from './politeness.ts';
import { isRetryableStatus, parseRetryAfter, retryDelayMs } from './retry.ts';
import { parseHttpUrl } from './urls.ts';

export type FetchOutcome =
  | { kind: 'ok'; url: URL; status: number; mimeType: string; charset: string | null; body: Buffer }
  | { kind: 'skipped'; url: URL; reason: string }
  | { kind: 'failed'; url: URL; reason: string; status?: number }
  /** A safety refusal (non-public address): never retried, fatal for the start URL. */
  | { kind: 'refused'; url: URL; reason: string };

export interface FetchRequest {
  url: URL;
  signal: AbortSignal;
  /** Which media types to read; others are skipped unread. Default: any. */
  accept?: (mimeType: string) => boolean;
  /** Why a redirect target must not be followed (out of scope, robots), or null to follow it. */
  checkRedirect?: (target: URL) => Promise<string | null> | string | null;
}

export interface FetcherOptions {
  limits: CrawlLimits;
  userAgent: string;
  allowPrivateNetworks: boolean;
  gate: HostGate;
  /** Name resolution and address judging (tests only; see AddressRules). */
  addressRules?: AddressRules;
}

type Response = Dispatcher.ResponseData;
type Attempt = { kind: 'response'; response: Response } | Exclude<FetchOutcome, { kind: 'ok' }>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ACCEPT = 'text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.8,*/*;q=0.5';

/** HTTP client of one crawl: one keep-alive connection pool, manual redirects, retries, timeouts, size cap. */
export class Fetcher {
  private readonly agent: Agent;
  private bytes = 0;

  constructor(private readonly options: FetcherOptions) {
    const { limits } = options;
    this.agent = new Agent({
      connections: limits.concurrency,
      keepAliveTimeout: 10_000,
      headersTimeout: limits.requestTimeoutMs,
      bodyTimeout: limits.requestTimeoutMs,
      connect: {
        timeout: Math.min(10_000, limits.requestTimeoutMs),
        ...(options.allowPrivateNetworks ? {} : { lookup: createGuardedLookup(options.addressRules) }),
      },
    });
  }

  /** Bytes of response bodies read so far (after decompression). */
  get bytesRead(): number {
    return this.bytes;
  }

  /** Fetches a URL, following redirects itself so that every hop is checked. */
  async fetch(req: FetchRequest): Promise<FetchOutcome> {
    let url = req.url;
    for (let hop = 0; ; hop++) {
      const attempt = await this.requestWithRetries(url, req.signal);
      if (attempt.kind !== 'response') return attempt;
      const { response } = attempt;
      const location = REDIRECTS.has(response.statusCode) ? header(response, 'location') : undefined;
      if (location === undefined) return this.readResponse(url, response, req);
      await discard(response);
      const target = parseHttpUrl(location, url);
      if (!target) return { kind: 'skipped', url, reason: `redirects to an unsupported URL: ${location}` };
      if (hop >= this.options.limits.maxRedirects) {
        return { kind: 'failed', url, reason: `more than ${this.options.limits.maxRedirects} redirects` };
      }
      const reason = (await req.checkRedirect?.(target)) ?? null;
      if (reason) return { kind: 'skipped', url: target, reason: `redirects to ${target.href}: ${reason}` };
      url = target;
    }
  }

  /** Closes every connection of this crawl, aborting anything still in flight. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private async requestWithRetries(url: URL, signal: AbortSignal): Promise<Attempt> {
    const { limits, gate, allowPrivateNetworks, addressRules } = this.options;
    const ip = literalIp(url.hostname);
    // net.connect does no lookup for an IP literal, so a literal is judged here, on every hop
    if (!allowPrivateNetworks && ip && (addressRules?.isDisallowed ?? isDisallowedAddress)(ip)) {
      return { kind: 'refused', url, reason: privateAddressMessage(ip, ip) };
    }
    for (let retry = 0; ; retry++) {
      await gate.wait(url.host, signal);
      const timeout = AbortSignal.timeout(limits.requestTimeoutMs);
      const attemptSignal = AbortSignal.any([signal, timeout]);
      let response: Response;
      try {
        response = await request(url, {
          dispatcher: this.agent,
          method: 'GET',
          signal: attemptSignal,
          headers: { 'user-agent': this.options.userAgent, accept: ACCEPT, 'accept-encoding': 'gzip, deflate, br' },
        });
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        const refused = findPrivateAddressError(error);
        if (refused) return { kind: 'refused', url, reason: refused.message };
        const reason = timeout.aborted ? `timed out after ${limits.requestTimeoutMs / 1000} s` : networkReason(error);
        if (retry >= limits.maxRetries) return { kind: 'failed', url, reason };
        await sleep(retryDelayMs(retry, limits.retryBaseDelayMs, limits.maxRetryAfterMs, null), signal);
        continue;
      }
      if (isRetryableStatus(response.statusCode) && retry < limits.maxRetries) {
        const retryAfter = parseRetryAfter(header(response, 'retry-after'));
        await discard(response);
        await sleep(retryDelayMs(retry, limits.retryBaseDelayMs, limits.maxRetryAfterMs, retryAfter), signal);
        continue;
      }
      // attemptSignal stays attached to the body, so the timeout and a cancel also cover reading it.
      return { kind: 'response', response };
    }
  }

  private async readResponse(url: URL, response: Response, req: FetchRequest): Promise<FetchOutcome> {
    const { statusCode } = response;
    if (statusCode < 200 || statusCode >= 300) {
      await discard(response);
      return { kind: 'failed', url, status: statusCode, reason: `HTTP ${statusCode}` };
    }
    const [mimeType, charset] = parseContentType(header(response, 'content-type'));
    if (req.accept && !req.accept(mimeType)) {
      await discard(response);
      return { kind: 'skipped', url, reason: `content type ${mimeType || '(none)'} is not a text page` };
    }
    const cap = this.options.limits.maxBodyBytes;
    const declared = Number(header(response, 'content-length') ?? NaN);
    if (declared > cap) {
      response.body.destroy();
      return { kind: 'skipped', url, reason: `too large: ${declared} bytes, the limit is ${cap}` };
    }
    try {
      const body = await readCapped(decoded(response), cap);
      if (!body) return { kind: 'skipped', url, reason: `too large: more than ${cap} bytes, the limit is ${cap}` };
      this.bytes += body.length;
      return { kind: 'ok', url, status: statusCode, mimeType, charset, body };
    } catch (error) {
      if (req.signal.aborted) throw abortReason(req.signal);
      return { kind: 'failed', url, reason: `reading the body failed: ${networkReason(error)}` };
    }
  }
}

function header(response: Response, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseContentType(value: string | undefined): [mimeType: string, charset: string | null] {
  if (!value) return ['', null];
  const [type = '', ...params] = value.split(';');
  const charset = params.map((p) => /^\s*charset\s*=\s*"?([^";\s]+)/i.exec(p)?.[1]).find(Boolean) ?? null;
  return [type.trim().toLowerCase(), charset];
}

// Reading a small body to its end keeps the keep-alive connection usable; a large one is cut off.
async function discard(response: Response): Promise<void> {
  await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
}

function decoded(response: Response): Readable {
  const encoding = header(response, 'content-encoding')?.trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'br'
        ? zlib.createBrotliDecompress()
        : encoding === 'deflate'
          ? zlib.createInflate()
          : null;
  if (!decoder) return response.body;
  return pipeline(response.body, decoder, () => undefined);
}

/** Reads a stream to its end, or returns null (and stops reading) once it exceeds `cap` bytes. */
async function readCapped(stream: Readable, cap: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > cap) {
      stream.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : null;
  const code = (error as { code?: string }).code ?? (cause as { code?: string } | null)?.code;
  const message = cause?.message ?? error.message;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
