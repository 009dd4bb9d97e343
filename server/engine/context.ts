import type { Logger } from 'pino';
import type { Attempt, JobContext } from './job.ts';
import { combinePatches, type ProgressPatch } from '../executions/progress.ts';
import { FencedError, type Change, type Execution, type ExecutionWrite, type Fence } from '../executions/types.ts';

/** The store calls a job context makes. */
export interface ContextStore {
  write(fence: Fence, write: ExecutionWrite): Promise<{ change: Change | null }>;
  loadCheckpoint(executionId: string): Promise<Map<string, unknown>>;
}

export interface ContextDeps {
  store: ContextStore;
  publish(change: Change): void;
  log: Logger;
  progressIntervalMs: number;
  /** Called when a write is refused: the execution moved on, so the job must stop. */
  onFenced(): void;
}

/** A JobContext, the attempt's writer for capabilities, and what the engine needs to wind it down. */
export interface RunningContext<Input> extends JobContext<Input> {
  readonly writer: Attempt;
  /** Writes any coalesced progress still pending. */
  flush(): Promise<void>;
  /** Stops the coalescing timer; later progress calls are dropped. */
  close(): void;
}

/** Builds the context a job runs with: every write fenced by this attempt, progress coalesced. */
export function createJobContext<Input>(
  execution: Execution,
  signal: AbortSignal,
  deps: ContextDeps,
): RunningContext<Input> {
  const fence = { executionId: execution.id, attempt: execution.attempt };
  let pending: ProgressPatch | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  // The writes of one attempt are applied one after another, in the order the job made them. A job's
  // progress counters are absolute and computed when it writes; applied out of order (concurrent
  // writes on a pooled database) a later count could commit with the checkpoint of an earlier page
  // still unwritten, and a resumed attempt would count that page twice. They queue on the row lock anyway.
  // For the same reason, once one write has failed none after it may land: they were computed
  // assuming it would (a later counter includes the failed page), so the attempt's writes end there.
  let tail: Promise<unknown> = Promise.resolve();
  let failed: unknown = null;
  const enqueue: Attempt['write'] = (write, through) => {
    if (pending) {
      write = { ...write, progress: write.progress ? combinePatches(pending, write.progress) : pending };
      pending = null;
    }
    const applied = tail.then(() => apply(write, through));
    tail = applied.catch(() => {});
    return applied;
  };

  const apply = async <T extends { change: Change | null }>(
    write: ExecutionWrite,
    through: (fence: Fence, write: ExecutionWrite) => Promise<T>,
  ): Promise<T> => {
    if (failed) throw failed;
    try {
      const applied = await through(fence, write);
      if (applied.change) deps.publish(applied.change);
      return applied;
    } catch (error) {
      failed = error;
      if (error instanceof FencedError) deps.onFenced();
      throw error;
    }
  };

  const commit = async (write: ExecutionWrite): Promise<void> => {
    await enqueue(write, (f, w) => deps.store.write(f, w));
  };

  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!pending || closed) return;
    await commit({ event: { type: 'PROGRESS', message: pending.message ?? null } });
  };

  return {
    executionId: execution.id,
    kind: execution.kind,
    attempt: execution.attempt,
    input: execution.input as Input,
    signal,
    log: deps.log,
    initialProgress: execution.progress,
    writer: { executionId: execution.id, attempt: execution.attempt, write: enqueue },
    progress(patch) {
      if (closed) return;
      pending = pending ? combinePatches(pending, patch) : { ...patch };
      timer ??= setTimeout(() => {
        flush().catch((error: unknown) => deps.log.debug({ err: error }, 'progress flush refused'));
      }, deps.progressIntervalMs);
    },
    commit,
    async logEvent(message, patch) {
      await commit({ event: { type: 'LOG', message }, progress: patch });
    },
    loadCheckpoint: () => deps.store.loadCheckpoint(execution.id),
    flush,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
