import type { Logger } from 'pino';
import type { Progress, ProgressPatch } from '../executions/progress.ts';
import type { Change, ExecutionKind, ExecutionWrite, Fence } from '../executions/types.ts';

/** What the engine hands a running job. With the capabilities it declared, jobs talk to nothing else. */
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
  /** Coalesced: persisted and published as one PROGRESS event at most every progressIntervalMs. */
  progress(patch: ProgressPatch): void;
  /** An atomic fenced write (see ExecutionWrite). Throws FencedError when the execution moved on. */
  commit(write: ExecutionWrite): Promise<void>;
  /** A LOG event. */
  logEvent(message: string, patch?: ProgressPatch): Promise<void>;
  /** All checkpoint entries saved by earlier attempts (empty on a first run). */
  loadCheckpoint(): Promise<Map<string, unknown>>;
}

/**
 * One attempt's fenced writer, from which the app builds the capabilities a job declared (a crawl
 * stores pages, a chat writes its answer): their writes join the attempt's own, in order.
 */
export interface Attempt {
  readonly executionId: string;
  readonly attempt: number;
  /**
   * Applies one fenced write through `apply` (a store call committing it in one transaction), after
   * every earlier write of this attempt and with the progress still coalescing merged in. A refused
   * write ends the attempt's writes: every later one is refused too.
   */
  write<T extends { change: Change | null }>(write: ExecutionWrite, apply: (fence: Fence, write: ExecutionWrite) => Promise<T>): Promise<T>;
}

/** A job kind as the engine runs it: it knows nothing else about it. Made with defineJob. */
export interface Job {
  readonly kind: ExecutionKind;
  /** Whether an attempt cut short by a dead node may resume from its checkpoint (else INTERRUPTED). */
  readonly resumable: boolean;
  /** Runs one attempt with the execution's persisted input. */
  start(ctx: JobContext, attempt: Attempt): Promise<unknown>;
}

export interface JobSpec<Input, Result, Capabilities> {
  kind: ExecutionKind;
  resumable: boolean;
  /** Builds what the job may do beyond its context, for one attempt (the app builds it from the store). */
  capabilities?: (attempt: Attempt) => Capabilities;
  run(input: Input, ctx: JobContext<Input>, capabilities: Capabilities): Promise<Result>;
}

/** A job kind: a function of its input, its context and the capabilities it declared. */
export function defineJob<Input, Result = unknown, Capabilities = undefined>(spec: JobSpec<Input, Result, Capabilities>): Job {
  return {
    kind: spec.kind,
    resumable: spec.resumable,
    // The input is the JSON this kind's own service persisted when it submitted the execution.
    start: (ctx, attempt) => spec.run(ctx.input as Input, ctx as JobContext<Input>, spec.capabilities?.(attempt) as Capabilities),
  };
}
