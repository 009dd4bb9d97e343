import type { Logger } from 'pino';
import { isAbortError } from '../lib/abort.ts';
import { NotFoundError } from '../lib/errors.ts';
import { within } from '../lib/timing.ts';
import type { SluicePubSub } from '../pubsub.ts';
import type { Store } from '../store/store.ts';
import { createJobContext, type RunningContext } from './context.ts';
import type { Job } from './job.ts';
import { ACTIVE_STATUSES, isTerminal } from '../executions/status.ts';
import { FencedError, StoreUnavailableError, type Execution, type ExecutionKind, type Change, type NewExecution } from '../executions/types.ts';

export interface EngineConfig {
  nodeId: string;
  /** Executions this node runs at once; the rest wait QUEUED, in order. */
  maxConcurrent: number;
  /** How long cancelled code may take to stop before it is finalised as CANCELLED anyway. */
  cancelGraceMs: number;
  leaseMs: number;
  heartbeatMs: number;
  progressIntervalMs: number;
}

/** Everything an engine is built from. */
export interface EngineOptions extends EngineConfig {
  store: Store;
  pubsub: SluicePubSub;
  /** The job kinds this node runs, one per kind. */
  jobs: readonly Job[];
  log: Logger;
  observer?: EngineObserver;
}

/** Why a running job's signal fired. */
type StopCause = 'cancel' | 'shutdown' | 'lost';

interface Running {
  execution: Execution;
  controller: AbortController;
  context: RunningContext<unknown>;
  cause: StopCause | null;
  /** Set once the row reached its end here, even if the job's code has not returned yet. */
  finalised: boolean;
  graceTimer: NodeJS.Timeout | null;
  /** Settles once the job's code has returned and its end is recorded. */
  done: Promise<void>;
}

/** What the engine reports as it goes (metrics); every method is optional to implement as a no-op. */
export interface EngineObserver {
  onChange(change: Change): void;
  /** A cancel was accepted; `requestedAt` is performance.now() when the request came in. */
  onCancelRequested(executionId: string, requestedAt: number): void;
  onGraceExceeded(): void;
  onRecovered(outcome: 'resumed' | 'interrupted' | 'cancelled'): void;
}

/** The cancel transition: whichever of these applies to the row as it is (see planTransition). */
const CANCEL = ['cancelQueued', 'requestCancel'] as const;

/** How often a node tries to record how an execution ended before leaving it to the sweeps. */
const SETTLE_TRIES = 4;

const NO_OBSERVER: EngineObserver = { onChange() {}, onCancelRequested() {}, onGraceExceeded() {}, onRecovered() {} };

export interface CancelOutcome {
  accepted: boolean;
  execution: Execution;
}

/** Errors a job can throw carry their message to the execution's `error`; abort reasons say why. */
class StopSignal extends Error {
  override readonly name = 'AbortError';
  constructor(readonly stopCause: StopCause, message: string) {
    super(message);
  }
}

/**
 * Runs executions on this node: claims queued work up to the cap, hands each job its context, turns
 * how the job ended into exactly one terminal transition, and makes a cancel reach running code at
 * once (AbortSignal) and for good (the tombstone in the store, fencing, and the grace period).
 * It knows nothing of crawling or chat: jobs are looked up by kind.
 */
export class Engine {
  private readonly running = new Map<string, Running>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopListening: () => void = () => {};
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private draining = false;
  private readonly store: Store;
  private readonly pubsub: SluicePubSub;
  private readonly jobs: ReadonlyMap<ExecutionKind, Job>;
  private readonly config: EngineConfig;
  private readonly log: Logger;
  private readonly observer: EngineObserver;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.pubsub = options.pubsub;
    this.jobs = new Map(options.jobs.map((job) => [job.kind, job]));
    if (this.jobs.size !== options.jobs.length) throw new Error('two jobs are registered for the same kind');
    this.config = options;
    this.log = options.log;
    this.observer = options.observer ?? NO_OBSERVER;
  }

  /** Recovers what a dead process left behind, then starts taking work. */
  async start(): Promise<void> {
    await this.recoverOrphans(this.store.exclusive);
    this.listen();
    await this.listening();
    this.timers.push(setInterval(() => void this.heartbeat(), this.config.heartbeatMs));
    this.kick();
  }

  /**
   * Graceful stop: take no more work, abort what runs with cause "shutdown" (the job's checkpoint
   * stays and the execution goes back to QUEUED for the next start or another node; kinds that
   * cannot resume end INTERRUPTED), wait for it.
   */
  async stop(): Promise<void> {
    this.draining = true;
    this.timers.forEach((t) => clearInterval(t));
    this.stopListening();
    await this.pumping;
    const all = [...this.running.values()];
    for (const r of all) this.abortLocal(r, 'shutdown', 'node shutting down');
    await within(Promise.allSettled(all.map((r) => r.done)), this.config.cancelGraceMs);
    // Code that ignored its signal past the grace period: release its row anyway (fenced off from now on).
    for (const r of all) {
      if (r.finalised) continue;
      r.finalised = true;
      // The database may be away: the lease running out hands the row to a survivor (or the next start).
      const change = await this.release(r.execution, `its node (${this.config.nodeId}) shut down`).catch((error: unknown) => {
        this.log.warn({ err: error, executionId: r.execution.id }, 'could not release an execution at shutdown; its lease will run out');
        return null;
      });
      if (change) this.publish(change);
    }
  }

  /** Records a new execution (QUEUED) and wakes the claim loop. */
  async submit(input: NewExecution): Promise<Execution> {
    if (!this.jobs.has(input.kind)) throw new Error(`no job is registered for kind ${input.kind}`);
    const change = await this.store.createExecution(input);
    this.publish(change);
    this.kick();
    return change.execution;
  }

  /**
   * Cancels one execution. The tombstone (CANCELLING, or CANCELLED when it never ran) is written
   * first; then the running code is aborted here, or its node is rung. Already ended: accepted=false.
   */
  async cancel(id: string, reason: string | null, by: string | null): Promise<CancelOutcome> {
    const requestedAt = performance.now();
    for (;;) {
      // One decision under the row's lock: QUEUED ends at once, RUNNING gets its tombstone. Whatever
      // moves the row meanwhile (a claim, a release back to QUEUED) cannot fall between two tries.
      const change = await this.store.transition(id, CANCEL, { reason, by });
      if (change) {
        this.observer.onCancelRequested(id, requestedAt);
        this.publish(change);
        if (change.execution.status === 'CANCELLING') this.deliverCancel(change.execution);
        return { accepted: true, execution: change.execution };
      }
      const current = await this.store.getExecution(id);
      if (!current) throw new NotFoundError(`no execution has id "${id}"`);
      // Already stopping: the tombstone is written, so a second cancel is accepted again (idempotent).
      if (current.status === 'CANCELLING') return { accepted: true, execution: current };
      if (isTerminal(current.status)) return { accepted: false, execution: current };
      // Still QUEUED or RUNNING: it moved between our transition and this read; decide again.
    }
  }

  /** Cancels every active execution that matches; returns the outcome of each. */
  async cancelMany(
    filter: { kind?: ExecutionKind | null; sessionId?: string | null },
    reason: string | null,
    by: string | null,
  ): Promise<CancelOutcome[]> {
    const active = await this.store.listExecutions({ ...filter, statuses: ACTIVE_STATUSES, oldestFirst: true });
    return Promise.all(active.map((e) => this.cancel(e.id, reason, by)));
  }

  /** Ids of executions whose code runs on this node now. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  private publish(change: Change): void {
    this.observer.onChange(change);
    for (const event of change.events) this.pubsub.publish('execution:event', event.executionId, event);
    if (change.events.some((e) => e.type === 'STATUS')) this.pubsub.publish('execution:changed', change.execution);
  }

  private deliverCancel(execution: Execution): void {
    const local = this.running.get(execution.id);
    if (local) this.abortLocal(local, 'cancel', execution.cancelReason ?? 'cancelled');
    else if (execution.node) this.pubsub.publish('execution:cancel', execution.node, { executionId: execution.id });
  }

  /**
   * Waits (a few heartbeats at most) until this node hears cancels and queued work, so a node that
   * says it started does not miss a doorbell rung right after. If pub/sub is away, it starts anyway:
   * each heartbeat re-reads statuses and polls for work.
   */
  private async listening(): Promise<void> {
    const ready = await within(this.pubsub.settled().then(() => true, () => false), this.config.heartbeatMs * 5);
    if (!(ready.settled && ready.value)) this.log.warn('pub/sub did not confirm its subscriptions; relying on heartbeats until it does');
  }

  /** Cancels rung for this node; work queued on any node (claimed here at once if there is room). */
  private listen(): void {
    const stopCancels = this.pubsub.listen('execution:cancel', this.config.nodeId, ({ executionId }) => {
      const local = this.running.get(executionId);
      if (local) this.abortLocal(local, 'cancel', 'cancelled');
    });
    const stopQueued = this.pubsub.listen('execution:changed', null, (execution) => {
      if (execution.status === 'QUEUED') this.kick();
    });
    this.stopListening = () => {
      stopCancels();
      stopQueued();
    };
  }

  private abortLocal(r: Running, cause: StopCause, message: string): void {
    if (!r.cause) {
      r.cause = cause;
      r.controller.abort(new StopSignal(cause, message));
    }
    // A cancel arms the grace timer even when the code was already told to stop for another reason (a
    // fenced write marked it lost, a shutdown began): if that code does not stop, the row still ends.
    if (cause === 'cancel' && !r.graceTimer && !r.finalised) {
      r.graceTimer = setTimeout(() => this.inBackground(this.finaliseLateCancel(r), 'finalising a cancel after its grace period'), this.config.cancelGraceMs);
    }
  }

  /** Runs a promise no caller awaits (timers): a failure is logged, never an unhandled rejection. */
  private inBackground(work: Promise<unknown>, what: string): void {
    work.catch((error: unknown) => this.log.warn({ err: error }, `${what} failed; the next heartbeat retries`));
  }

  /** The cancelled code did not stop within the grace period: end the row anyway; fencing does the rest. */
  private async finaliseLateCancel(r: Running): Promise<void> {
    if (r.finalised) return;
    r.finalised = true;
    this.log.warn({ executionId: r.execution.id }, 'cancelled code did not stop within the grace period');
    this.observer.onGraceExceeded();
    let change: Change | null;
    try {
      change = await this.store.transition(r.execution.id, 'finishCancel', { reason: this.graceReason() });
    } catch (error) {
      // Not recorded: the overdue-cancel sweep of the next heartbeat (on any node) ends it.
      r.finalised = false;
      throw error;
    }
    if (change) this.publish(change);
    if (this.running.get(r.execution.id) === r) this.running.delete(r.execution.id);
    this.kick();
  }

  private graceReason(): string {
    return `stopped after the ${this.config.cancelGraceMs} ms grace period`;
  }

  /** Wakes the claim loop; calls while it runs make it go round once more. */
  private kick(): void {
    if (this.draining) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.log.error({ err: error }, 'claiming queued executions failed'))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.kick();
        }
      });
  }

  private async pump(): Promise<void> {
    const room = this.config.maxConcurrent - this.running.size;
    if (room <= 0 || this.draining) return;
    const claimed = await this.store.claim(this.config.nodeId, room, this.config.leaseMs);
    for (const change of claimed) {
      this.publish(change);
      this.launch(change.execution);
    }
  }

  private launch(execution: Execution): void {
    const job = this.jobs.get(execution.kind);
    const controller = new AbortController();
    const log = this.log.child({ executionId: execution.id, kind: execution.kind, attempt: execution.attempt });
    const context = createJobContext(execution, controller.signal, {
      store: this.store,
      publish: (change) => this.publish(change),
      log,
      progressIntervalMs: this.config.progressIntervalMs,
      onFenced: () => this.abortLocal(r, 'lost', 'this node no longer owns the execution'),
    });
    const r: Running = { execution, controller, context, cause: null, finalised: false, graceTimer: null, done: Promise.resolve() };
    this.running.set(execution.id, r);
    r.done = this.runJob(job, r, log).finally(() => {
      if (r.graceTimer) clearTimeout(r.graceTimer);
      if (this.running.get(execution.id) === r) this.running.delete(execution.id);
      this.kick();
    });
  }

  private async runJob(job: Job | undefined, r: Running, log: Logger): Promise<void> {
    let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
    try {
      // Claimed here, so its kind was submitted to a node that runs it; this one may not (a mixed cluster).
      if (!job) throw new Error(`this node runs no job of kind ${r.execution.kind}`);
      const result = await job.start(r.context, r.context.writer);
      await r.context.flush();
      outcome = { ok: true, result };
    } catch (error) {
      outcome = { ok: false, error };
    }
    r.context.close();
    // A database that is away for a moment should not leave the row for the sweeps: try a few times.
    for (let tries = 1; ; tries++) {
      if (r.finalised) return;
      r.finalised = true;
      try {
        const change = await this.settle(r, outcome);
        if (change) this.publish(change);
        log.info({ status: change?.execution.status ?? 'moved on' }, 'execution ended here');
        return;
      } catch (error) {
        r.finalised = false;
        if (!(error instanceof StoreUnavailableError) || tries >= SETTLE_TRIES || this.draining) {
          // The row keeps its lease until it runs out; then recovery (or the overdue-cancel sweep) ends it.
          log.error({ err: error }, 'recording how the execution ended failed; recovery takes it over when its lease runs out');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** tries));
      }
    }
  }

  /** Turns how the job ended into one transition; the store refuses any that no longer applies. */
  private async settle(
    r: Running,
    outcome: { ok: true; result: unknown } | { ok: false; error: unknown },
  ): Promise<Change | null> {
    const { id, attempt } = r.execution;
    let change: Change | null = null;
    if (outcome.ok) {
      change = await this.store.transition(id, 'succeed', { attempt, result: outcome.result });
    } else if (r.cause === 'shutdown') {
      change = await this.release(r.execution, `its node (${this.config.nodeId}) shut down`);
    } else if (r.cause === null && outcome.error instanceof StoreUnavailableError) {
      // The database went away under the job, not the job's fault: release it like a dead node's work.
      // If the database is still away this throws, and the lease running out does the same later.
      change = await this.release(r.execution, 'the database could not be reached');
    } else if (r.cause !== 'cancel' && r.cause !== 'lost') {
      const error = outcome.error;
      const message = error instanceof Error ? error.message : String(error);
      if (!isAbortError(error) && !(error instanceof FencedError)) r.context.log.warn({ err: error }, 'job failed');
      change = await this.store.transition(id, 'fail', { attempt, error: message });
    }
    // Cancelled while running (or finished while a cancel was being written): the tombstone wins.
    return change ?? (await this.store.transition(id, 'finishCancel'));
  }

  /**
   * Ends this attempt when the job is not at fault (its node stopped, the database went away): it
   * resumes from its checkpoint (attempt + 1), or ends INTERRUPTED if its kind cannot resume — a
   * chat answer restarted from scratch would repeat the TOKEN events it already wrote.
   */
  private release(execution: Execution, why: string, options: { ifLeaseExpired?: boolean } = {}): Promise<Change | null> {
    const resumable = this.jobs.get(execution.kind)?.resumable ?? false;
    return this.store.transition(execution.id, resumable ? 'requeue' : 'interrupt', {
      ...options,
      attempt: execution.attempt,
      reason: resumable ? `${why}; resuming from the checkpoint` : `${why} while it ran, and a ${execution.kind.toLowerCase()} cannot resume`,
    });
  }

  /** Lease renewal plus a re-read of each running execution: a lost cancel message costs one beat. */
  private async heartbeat(): Promise<void> {
    try {
      // Code this node was told it no longer owns is not renewed: its lease runs out, so a survivor
      // (or this node's own sweep) can end the row even if that code never returns.
      const ids = [...this.running.values()].filter((r) => r.cause !== 'lost').map((r) => r.execution.id);
      if (ids.length > 0) {
        const rows = await this.store.renewLeases(this.config.nodeId, ids, this.config.leaseMs);
        for (const row of rows) {
          const r = this.running.get(row.id);
          if (!r) continue;
          if (row.status === 'CANCELLING') this.abortLocal(r, 'cancel', row.cancelReason ?? 'cancelled');
          else if (row.status !== 'RUNNING' || row.attempt !== r.execution.attempt || row.node !== this.config.nodeId)
            this.abortLocal(r, 'lost', 'another node took this execution over');
        }
      }
      // On one SQLite node too: a row whose claim or final write was lost on its way has no worker.
      await this.recoverOrphans(false);
      await this.finishOverdueCancels();
      this.kick();
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat failed; retrying on the next beat');
    }
  }

  /**
   * Executions whose node died: RUNNING ones resume from their checkpoint (attempt + 1) when their
   * kind allows it, else end INTERRUPTED; CANCELLING ones end CANCELLED. Never revives a cancel.
   */
  private async recoverOrphans(all: boolean): Promise<void> {
    const orphans = await this.store.listOrphans(all);
    // Taken over only if the lease has still run out when the move is decided (under the row's lock,
    // by the database's clock): a node that renewed since the list was read keeps its execution.
    const ifLeaseExpired = !all;
    for (const row of orphans) {
      if (this.running.has(row.id)) continue;
      let change: Change | null;
      if (row.status === 'CANCELLING') {
        change = await this.store.transition(row.id, 'finishCancel', { reason: 'its node stopped before it did', ifLeaseExpired });
      } else {
        change = await this.release(row, `its node (${row.node ?? 'unknown'}) stopped`, { ifLeaseExpired });
      }
      if (change) {
        const status = change.execution.status;
        this.observer.onRecovered(status === 'QUEUED' ? 'resumed' : status === 'CANCELLED' ? 'cancelled' : 'interrupted');
        this.log.info({ executionId: row.id, status }, 'recovered an orphaned execution');
        this.publish(change);
      }
    }
  }

  /**
   * CANCELLING rows whose grace period has passed end CANCELLED here, whichever node owns them,
   * whether that node lives and whether its code stops: every node sweeps on each heartbeat, so the
   * bound is grace + one heartbeat. The store decides "overdue" by its own clock under the row's lock.
   */
  private async finishOverdueCancels(): Promise<void> {
    const stopping = await this.store.listExecutions({ statuses: ['CANCELLING'], oldestFirst: true, limit: 1000 });
    for (const row of stopping) {
      // A pre-filter by this node's clock; a skewed clock only makes the store refuse or delays one beat.
      if (row.cancelRequestedAt !== null && row.cancelRequestedAt + this.config.cancelGraceMs > Date.now()) continue;
      const change = await this.store.transition(row.id, 'finishCancel', { reason: this.graceReason(), ifCancelRequestedMsAgo: this.config.cancelGraceMs });
      if (!change) continue;
      const local = this.running.get(row.id);
      if (local) {
        local.finalised = true;
        this.running.delete(row.id);
      }
      this.observer.onGraceExceeded();
      this.log.warn({ executionId: row.id, node: row.node }, 'a cancelled execution did not stop within the grace period; ended here');
      this.publish(change);
    }
  }
}
