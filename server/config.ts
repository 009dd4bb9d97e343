import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_CRAWL_LIMITS, type CrawlCaps } from './jobs/crawl/input.ts';
import { apiTokenProblem, type ApiToken } from './security/tokens.ts';

/**
 * Everything the server is built from; `createApp` takes this, `main.ts` reads it from the
 * environment. The crawl caps (SLUICE_CRAWL_*: the most a caller may ask for, what every request may take) come from CrawlCaps.
 */
export interface Config extends CrawlCaps {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  redisUrl: string | null;
  /** Put before every Redis channel name, so one Redis can serve several Sluice systems. */
  redisPrefix: string;
  allowPrivateNetworks: boolean;
  nodeId: string;
  apiTokens: ApiToken[];
  /** startCrawl + sendChatMessage calls per minute per token (or per local IP); 0 turns the limit off. */
  startRateLimitPerMinute: number;
  /** Largest GraphQL HTTP request body; larger ones are answered 413. WebSocket messages have the same cap. */
  maxRequestBytes: number;
  /** Bytes a WebSocket may have waiting before its live subscriptions fall back to reading the log. */
  streamHighWaterBytes: number;
  /** How long a WebSocket may stay that congested before it is closed with 1013 (its client resumes). */
  streamStallMs: number;
  /** Executions this node runs at once; the rest wait QUEUED in order. */
  maxConcurrent: number;
  /** Connections this node's PostgreSQL pool may open at once. */
  databasePoolSize: number;
  /** How long cancelled code may take to stop before it is finalised CANCELLED anyway. */
  cancelGraceMs: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Progress events of one execution are coalesced to at most one per interval. */
  progressIntervalMs: number;
  /** On stop: how long /readyz answers 503 while the node still serves, before it stops accepting (load balancers polling readiness). */
  shutdownDelayMs: number;
  /** On stop: how long requests in flight and WebSocket close handshakes may take before they are cut off. */
  drainTimeoutMs: number;
  /** On SIGTERM/SIGINT: the whole stop's deadline (drain, release executions, close); past it the process exits 1. */
  shutdownTimeoutMs: number;
  /** The built Vue client, served at /. */
  clientDir: string;
  logLevel: string;
  /** OpenAI-compatible endpoint for chat answers (SLUICE_LLM_BASE_URL, e.g. https://api.openai.com/v1); null: answers are composed from passages. */
  /** Worker threads that turn fetched pages into Markdown and chunks, shared by all crawls of this node; 0: inline on the main thread. */
  crawlWorkers: number;
  /** SQLite: job writes that store pages run on a thread of their own with a second connection (see PageWriter). */
  sqlitePageWriter: boolean;
  llmBaseUrl: string | null;
  llmModel: string | null;
  llmApiKey: string | null;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The defaults, for a single node on this machine. */
export function defaultConfig(): Config {
  return {
    port: 4000,
    host: '127.0.0.1',
    dataDir: resolve('data'),
    databaseUrl: null,
    redisUrl: null,
    redisPrefix: 'sluice:',
    allowPrivateNetworks: false,
    nodeId: `${hostname()}-${process.pid}`,
    apiTokens: [],
    startRateLimitPerMinute: 30,
    maxRequestBytes: 100 * 1024,
    streamHighWaterBytes: 1024 * 1024,
    streamStallMs: 30_000,
    maxConcurrent: 8,
    databasePoolSize: 20,
    cancelGraceMs: 5000,
    leaseMs: 3000,
    heartbeatMs: 1000,
    progressIntervalMs: 200,
    shutdownDelayMs: 0,
    drainTimeoutMs: 5000,
    shutdownTimeoutMs: 15000,
    clientDir: resolve('client/dist'),
    logLevel: 'info',
    crawlMaxPages: DEFAULT_CRAWL_LIMITS.maxPagesCap,
    crawlMaxDepth: DEFAULT_CRAWL_LIMITS.maxDepthCap,
    crawlMaxBodyBytes: DEFAULT_CRAWL_LIMITS.maxBodyBytes,
    crawlMaxRedirects: DEFAULT_CRAWL_LIMITS.maxRedirects,
    crawlMaxDurationMs: DEFAULT_CRAWL_LIMITS.maxDurationMs,
    crawlTimeoutMs: DEFAULT_CRAWL_LIMITS.requestTimeoutMs,
    // one core is left to the main thread and the SQLite page writer: on 2 cores one page worker crawled
    // the PostgreSQL manual faster than two in every bench:crawl-real run (1.3x at load 4-14, equal on a quiet machine)
    crawlWorkers: Math.max(1, availableParallelism() - 1),
    sqlitePageWriter: true,
    llmBaseUrl: null,
    llmModel: null,
    llmApiKey: null,
  };
}

/** Crawl caps that operators may set, with their variable and the bounds a safe value stays in. */
const CRAWL_CAPS = {
  crawlMaxPages: ['SLUICE_CRAWL_MAX_PAGES', 1, 100_000],
  crawlMaxDepth: ['SLUICE_CRAWL_MAX_DEPTH', 0, 50],
  crawlMaxBodyBytes: ['SLUICE_CRAWL_MAX_BODY_BYTES', 1024, 50 * 1024 * 1024],
  crawlMaxRedirects: ['SLUICE_CRAWL_MAX_REDIRECTS', 0, 20],
  crawlMaxDurationMs: ['SLUICE_CRAWL_MAX_DURATION_MS', 1000, 24 * 60 * 60 * 1000],
  crawlTimeoutMs: ['SLUICE_CRAWL_TIMEOUT_MS', 100, 120_000],
} as const satisfies Partial<Record<keyof Config, readonly [string, number, number]>>;

/** Fills in defaults for what is not given (tests pass only what they care about). */
export function resolveConfig(partial: Partial<Config> = {}): Config {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const config = { ...defaultConfig(), ...defined } as Config;
  for (const [key, [name, min, max]] of Object.entries(CRAWL_CAPS)) {
    const value = config[key as keyof typeof CRAWL_CAPS];
    if (!Number.isInteger(value) || value < min || value > max)
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; it is "${value}"`);
  }
  const tokenProblem = apiTokenProblem(config.apiTokens);
  if (tokenProblem) throw new ConfigError(`SLUICE_API_TOKENS: ${tokenProblem}`);
  if (config.heartbeatMs >= config.leaseMs)
    throw new ConfigError(`SLUICE_HEARTBEAT_MS (${config.heartbeatMs}) must be shorter than SLUICE_LEASE_MS (${config.leaseMs})`);
  if (config.llmBaseUrl && !/^https?:\/\//i.test(config.llmBaseUrl))
    throw new ConfigError(`SLUICE_LLM_BASE_URL must be an http(s) URL; it is "${config.llmBaseUrl}"`);
  if (config.llmBaseUrl && !config.llmModel) throw new ConfigError('SLUICE_LLM_MODEL must be set when SLUICE_LLM_BASE_URL is');
  return config;
}

function int(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; it is "${raw}"`);
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false; it is "${env[name]}"`);
}

function tokens(raw: string | undefined): ApiToken[] | undefined {
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('SLUICE_API_TOKENS must be JSON: [{"name":"ci","token":"...","scopes":["read"]}]');
  }
  // checked in resolveConfig, with the tokens tests pass directly
  return parsed as ApiToken[];
}

/** Reads the environment (see the README's configuration table); throws ConfigError saying what is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return resolveConfig({
    port: int(env, 'PORT', 0, 65535),
    host: env.HOST || undefined,
    dataDir: env.SLUICE_DATA_DIR ? resolve(env.SLUICE_DATA_DIR) : undefined,
    databaseUrl: env.DATABASE_URL || null,
    redisUrl: env.REDIS_URL || null,
    redisPrefix: env.SLUICE_REDIS_PREFIX || undefined,
    allowPrivateNetworks: bool(env, 'SLUICE_ALLOW_PRIVATE_NETWORKS'),
    nodeId: env.SLUICE_NODE_ID || undefined,
    apiTokens: tokens(env.SLUICE_API_TOKENS),
    startRateLimitPerMinute: int(env, 'SLUICE_RATE_LIMIT_PER_MINUTE', 0, 100_000),
    maxRequestBytes: int(env, 'SLUICE_MAX_REQUEST_BYTES', 1024, 10 * 1024 * 1024),
    maxConcurrent: int(env, 'SLUICE_MAX_CONCURRENT', 1, 10_000),
    databasePoolSize: int(env, 'SLUICE_DATABASE_POOL_SIZE', 1, 1_000),
    cancelGraceMs: int(env, 'SLUICE_CANCEL_GRACE_MS', 0, 600_000),
    leaseMs: int(env, 'SLUICE_LEASE_MS', 500, 600_000),
    heartbeatMs: int(env, 'SLUICE_HEARTBEAT_MS', 100, 600_000),
    shutdownDelayMs: int(env, 'SLUICE_SHUTDOWN_DELAY_MS', 0, 600_000),
    drainTimeoutMs: int(env, 'SLUICE_DRAIN_TIMEOUT_MS', 0, 600_000),
    shutdownTimeoutMs: int(env, 'SLUICE_SHUTDOWN_TIMEOUT_MS', 100, 3_600_000),
    logLevel: env.LOG_LEVEL || undefined,
    crawlWorkers: int(env, 'SLUICE_CRAWL_WORKERS', 0, 64),
    sqlitePageWriter: bool(env, 'SLUICE_SQLITE_PAGE_WRITER'),
    ...Object.fromEntries(Object.entries(CRAWL_CAPS).map(([key, [name, min, max]]) => [key, int(env, name, min, max)])),
    llmBaseUrl: env.SLUICE_LLM_BASE_URL || null,
    llmModel: env.SLUICE_LLM_MODEL || null,
    llmApiKey: env.SLUICE_LLM_API_KEY || null,
  });
}
