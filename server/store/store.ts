import { combinePatches } from '../executions/progress.ts';
import { withChunks, type ChunkedPage } from './chunk.ts';
import type { TransitionName } from '../executions/status.ts';
import type {
  Change,
  Execution,
  ExecutionEvent,
  ExecutionFilter,
  ExecutionWrite,
  Fence,
  HistoryPage,
  HistoryQuery,
  NewExecution,
  TransitionOptions,
} from '../executions/types.ts';
import type {
  ChatMessage,
  ChatSession,
  KnowledgeHit,
  KnowledgeSearchOptions,
  KnowledgeSource,
  NewChatMessage,
  PageInput,
  SessionPage,
  SessionPosition,
  StoredPage,
} from './knowledge-records.ts';

/**
 * One atomic, fenced write by a job: everything in it is committed in one transaction together with
 * its event (if any), or refused as a whole once the execution has moved on (cancelled, taken over).
 */
export interface StoreWrite extends ExecutionWrite {
  page?: PageInput;
  /**
   * With `page`: what the write also records only if the page is stored (new or changed), decided in
   * the same transaction. So the counters an execution reports (chunksStored, the checkpointed
   * pagesStored) are what the store holds for it, whatever stops the job after this write.
   */
  whenStored?: {
    progress?: ExecutionWrite['progress'];
    checkpoint?: ExecutionWrite['checkpoint'];
    /**
     * The page's chunks, added to the row's chunksStored in the transaction. Not a total computed by
     * the job: pages are stored while earlier pages' writes are still pending (or their answer is
     * lost), so a total from the job's memory would leave out chunks the store holds. Default: the
     * chunks of the write's page, as the store has them (it splits a page given without them).
     */
    chunksAdded?: number;
    /**
     * A checkpoint entry (a number, 0 when absent) the store adds one to in the transaction: a count
     * of the pages stored that is what the store holds. Not a count from the job's memory: a page
     * written while an earlier page's write is still pending cannot know whether that one will be
     * stored (an unchanged page is not). Added after the write's own checkpoint entries; no write
     * should also set this key.
     */
    countIn?: string;
  };
  /**
   * A complete chat answer's message and its full text, written with the answer's last write (and
   * the session touched). Until then the message reads as its TOKEN events (see listMessages).
   */
  message?: { id: string; text: string };
}

/**
 * The storage interface. Two implementations (embedded SQLite, PostgreSQL) give it the same
 * semantics, and the conformance suite in test/integration/store-conformance.test.ts holds both to it:
 * - every transition is a conditional update on the row's status (and attempt, when fenced), applied
 *   in one transaction with the STATUS event it produces;
 * - event seqs are 1, 2, 3, ... per execution, allocated in the transaction that writes the event;
 * - a job write is refused with FencedError unless the row is RUNNING at the writer's attempt.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Whether this store serves exactly one node (embedded SQLite): every RUNNING row at start-up is orphaned. */
  readonly exclusive: boolean;
  migrate(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;

  createExecution(input: NewExecution): Promise<Change>;
  getExecution(id: string): Promise<Execution | null>;
  listExecutions(filter: ExecutionFilter): Promise<Execution[]>;
  /** A page of the history (newest first, before a position) with the count of all that match. */
  historyPage(query: HistoryQuery): Promise<HistoryPage>;
  listEvents(executionId: string, afterSeq: number, limit?: number): Promise<ExecutionEvent[]>;

  /**
   * Applies a named transition if the row allows it, or the first of a list that does, decided in
   * one transaction under the row's lock; null when none does (row moved on or unknown).
   */
  transition(id: string, name: TransitionName | readonly TransitionName[], options?: TransitionOptions): Promise<Change | null>;
  /**
   * Sets the priority of a waiting (QUEUED or PAUSED) execution with a LOG event saying so, decided
   * under the row's lock (planPriority); null when unknown or no longer waiting.
   */
  setPriority(id: string, priority: number): Promise<Change | null>;
  /** 1-based place of a QUEUED execution in the claim order (priority, then FIFO); null when not QUEUED. */
  queuePosition(id: string): Promise<number | null>;
  /** Claims up to `limit` QUEUED executions in queue order (highest priority first, FIFO within one) for this node (QUEUED -> RUNNING). */
  claim(nodeId: string, limit: number, leaseMs: number): Promise<Change[]>;
  /** A job's fenced write; throws FencedError once the row is no longer RUNNING at this attempt. */
  write(fence: Fence, write: StoreWrite): Promise<{ change: Change | null; pageStored: boolean | null }>;
  /**
   * Several writes of one attempt in one transaction (a group commit: with a full-text index a
   * commit costs as much as a page's rows), applied in order, each as `write` would apply it on the
   * row the previous one left. All or nothing: one refused or failed write refuses them all, so
   * no checkpoint claims a page the store does not hold. `change` holds the last row and every event.
   */
  writeMany(fence: Fence, writes: readonly StoreWrite[]): Promise<{ change: Change | null; pagesStored: (boolean | null)[] }>;
  loadCheckpoint(executionId: string): Promise<Map<string, unknown>>;
  /**
   * Extends the leases of this node's executions; returns the current rows of the given ids. A row
   * of this node's that another transaction holds locked is waited for; with `skipLocked` it is left
   * out instead (neither renewed nor returned), so one row's open transaction holds up no other.
   */
  renewLeases(nodeId: string, ids: readonly string[], leaseMs: number, options?: { skipLocked?: boolean }): Promise<Execution[]>;
  /**
   * RUNNING or CANCELLING executions whose lease has run out by the database's clock (or all of
   * them, with `all`). Lease times are the database's too (claim, renewLeases): no node's clock counts.
   */
  listOrphans(all: boolean): Promise<Execution[]>;

  /** The knowledge base: pages and chunks are written by jobs, through `write` with `page`. */
  readonly knowledge: KnowledgeStore;
  /** Chat sessions and messages: an answer's events and text are written by its job, through `write` (with `message` once complete). */
  readonly chat: ChatStore;
}

/** The knowledge slice of a store. */
export interface KnowledgeStore {
  /**
   * Ranked passages for user text, best first (higher score is better); [] when nothing matches.
   * The text is split into plain terms (see search-terms.ts): it is never read as query syntax.
   */
  search(query: string, limit: number, options?: KnowledgeSearchOptions): Promise<KnowledgeHit[]>;
  /** Every source, the most recently crawled first. */
  listSources(): Promise<KnowledgeSource[]>;
  getSource(id: string): Promise<KnowledgeSource | null>;
  /** Deletes a source with its pages and chunks; false when unknown. */
  deleteSource(id: string): Promise<boolean>;
  /** The pages an execution stored with id > `afterId`, by id, at most `limit`. */
  listExecutionPages(executionId: string, afterId: number, limit: number): Promise<StoredPage[]>;
}

/** The chat slice of a store. */
export interface ChatStore {
  createSession(title: string): Promise<ChatSession>;
  getSession(id: string): Promise<ChatSession | null>;
  /** The most recently active first. */
  listSessions(limit: number): Promise<ChatSession[]>;
  /**
   * Up to `limit` sessions after `before` (null: from the most recently active), most recently
   * active first, with how many sessions there are in all, read together.
   */
  sessionPage(before: SessionPosition | null, limit: number): Promise<SessionPage>;
  /**
   * Appends messages (in order, in one transaction) and touches the session. A session that is not
   * there (deleted meanwhile) gets none: NotFoundError, nothing stored.
   */
  addMessages(sessionId: string, messages: readonly NewChatMessage[]): Promise<ChatMessage[]>;
  /** Links an assistant message to the execution that writes it; false when the message is gone (its session was deleted). */
  setMessageExecution(messageId: string, executionId: string): Promise<boolean>;
  /**
   * Oldest first; with `last`, only the newest `last` messages. Status joined from the execution row.
   * An answer not complete (streaming, or ended by a cancel, a failure or a crash) reads as the
   * concatenation of its execution's TOKEN events in seq order: exactly what was emitted.
   */
  listMessages(sessionId: string, last?: number): Promise<ChatMessage[]>;
  /** Sets a session's title (updatedAt unchanged); null when unknown. */
  renameSession(id: string, title: string): Promise<ChatSession | null>;
  /** Deletes a session with its messages; false when unknown. */
  deleteSession(id: string): Promise<boolean>;
}

/** A write whose page (if any) has its chunks. */
export type ChunkedWrite = StoreWrite & { page?: ChunkedPage };

/** The writes with every page's chunks (split here when a job left that to the store, see PageInput.chunks). */
export function withPageChunks(writes: readonly StoreWrite[]): ChunkedWrite[] {
  return writes.map((write) => (write.page ? { ...write, page: withChunks(write.page) } : (write as ChunkedWrite)));
}

/** The write as it applies once the store knows whether its page was stored (see StoreWrite.whenStored). */
export function writeAsStored(write: StoreWrite, pageStored: boolean | null, current: { chunksStored: number } | null): StoreWrite {
  if (!pageStored || !write.whenStored) return write;
  const { checkpoint } = write.whenStored;
  // the page's chunks, counted by the store where it split the page itself (see PageInput.chunks)
  const chunksAdded = write.whenStored.chunksAdded ?? write.page?.chunks?.length;
  const progress = chunksAdded === undefined ? write.whenStored.progress : { ...write.whenStored.progress, chunksStored: (current?.chunksStored ?? 0) + chunksAdded };
  return {
    ...write,
    progress: progress ? (write.progress ? combinePatches(write.progress, progress) : progress) : write.progress,
    checkpoint: checkpoint ? { ...write.checkpoint, ...checkpoint } : write.checkpoint,
  };
}
