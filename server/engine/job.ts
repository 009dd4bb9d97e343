import type { Logger } from 'pino';
import type { Progress, ProgressPatch } from '../executions/progress.ts';
import type { ExecutionKind } from '../executions/types.ts';
import type { ChatMessage, KnowledgeHit, KnowledgeSearchOptions } from '../store/knowledge-records.ts';
import type { StoreWrite } from '../store/store.ts';
import type { LookupAddress } from 'node:dns';

export interface JobWriteResult {
  /** For a write with a page: false when an identical page (same URL and hash) was already stored. */
  pageStored: boolean | null;
  progress: Progress;
}

/** What the engine hands a running job. Jobs talk to nothing else. */
export interface JobContext<Input = unknown> {
  readonly executionId: string;
  readonly kind: ExecutionKind;
  readonly attempt: number;
  readonly input: Input;
  /** Fires on cancel, shutdown or loss of ownership. Every await in the job must honour it. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The progress as persisted when this attempt started (non-zero when resuming). */
  readonly initialProgress: Progress;
  /** Settings from the server config that jobs need (e.g. allowPrivateNetworks). */
  readonly settings: JobSettings;
  /** Coalesced: persisted and published as one PROGRESS event at most every progressIntervalMs. */
  progress(patch: ProgressPatch): void;
  /** An atomic fenced write (see StoreWrite). Throws FencedError when the execution moved on. */
  commit(write: StoreWrite): Promise<JobWriteResult>;
  /** A LOG event. */
  logEvent(message: string, patch?: ProgressPatch): Promise<void>;
  /** All checkpoint entries saved by earlier attempts (empty on a first run). */
  loadCheckpoint(): Promise<Map<string, unknown>>;
  /** Reads ranked passages of the knowledge base (see Store.searchKnowledge). */
  searchKnowledge(query: string, limit: number, options?: KnowledgeSearchOptions): Promise<KnowledgeHit[]>;
  /** The newest `n` messages of a chat session, oldest first. */
  recentMessages(sessionId: string, n: number): Promise<ChatMessage[]>;
}

export interface JobSettings {
  allowPrivateNetworks: boolean;
  /** How crawls resolve names and judge addresses; only tests set it (see AddressRules). */
  addressRules?: AddressRules;
  userAgent: string;
  /** An OpenAI-compatible chat completions endpoint for chat answers; absent: answers are composed from passages. */
  llm?: { baseUrl: string; model: string; apiKey: string | null };
}

/** A job kind: a function of its input and context. The engine knows nothing else about it. */
export interface JobDefinition<Input = unknown, Result = unknown> {
  kind: ExecutionKind;
  /** Whether an attempt cut short by a dead node may resume from its checkpoint (else INTERRUPTED). */
  resumable: boolean;
  run(input: Input, ctx: JobContext<Input>): Promise<Result>;
}

/**
 * How jobs resolve names and judge addresses before they connect. Production uses the defaults;
 * tests inject a resolver (a "public" name that resolves to a test server) and a judge (which test
 * address counts as public), since a test cannot reach the internet.
 */
export interface AddressRules {
  /** Every address of a host name; default: the system resolver (dns.lookup, /etc/hosts included). */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
  /** True when a job must not connect to `ip`; default: the private-network rules of the crawler. */
  isDisallowed?: (ip: string) => boolean;
}
