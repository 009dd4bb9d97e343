import type { Logger } from 'pino';
import { isAbortError } from '../lib/abort.ts';
import { ConflictError, NotFoundError } from '../lib/errors.ts';
import { within } from '../lib/timing.ts';
import type { SluicePubSub } from '../pubsub.ts';
import type { Store } from '../store/store.ts';
import { createJobContext, type RunningContext } from './context.ts';
import type { Job } from './job.ts';
import { ACTIVE_STATUSES, isTerminal, type ExecutionStatus, type TransitionName } from '../executions/status.ts';
import {
  FencedError,
  StoreUnavailableError,
  type Change,
  type Execution,
  type ExecutionKind,
  type NewExecution,
  type TransitionOptions,
} from '../executions/types.ts';

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

/**
 * Why a running job's signal fired. "unconfirmed": this node could not confirm its lease in time
 * (see fenceAfterMs), so it stopped the code itself before another node may end or take the row.
 */
type StopCause = 'cancel' | 'shutdown' | 'lost' | 'pause' | 'unconfirmed';

interface Running {
  execution: Execution;
  controller: AbortController;
  context: RunningContext<unknown>;
  cause: StopCause | null;
  /** Set once the row reached its end here, even if the job's code has not returned yet. */
  finalised: boolean;
  graceTimer: NodeJS.Timeout | null;
  /**
   * performance.now() when the last store call that found the row still this attempt's on this node
   * (the claim, a lease renewal) was sent: the database read it no earlier than that.
   */
  confirmedAt: number;
  /** Fires when the lease has gone unconfirmed too long (see fenceAfterMs). */
  fenceTimer: NodeJS.Timeout | null;
  /** performance.now() when this node stopped the code itself (cause "unconfirmed"), else null. */
  fencedAt: number | null;
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
  /** This node stopped an execution's code itself: its lease went unconfirmed too long (see fenceAfterMs). */
  onSelfFenced(): void;
}

/** The cancel transition: whichever of these applies to the row as it is (see planTransition). */
const CANCEL = ['cancelQueued', 'requestCancel', 'cancelPaused'] as const;

/** Which executions a bulk operation reaches: all active ones that match every filter given. */
export interface BulkFilter {
  ids?: readonly string[] | null;
  kind?: ExecutionKind | null;
  sessionId?: string | null;
}

/** What a bulk pause or resume did: how many moved, and every matching execution as it is after. */
export interface BulkOutcome {
  affected: number;
  executions: Execution[];
}

/** How often a node tries to record how an execution ended before leaving it to the sweeps. */
const SETTLE_TRIES = 4;

const NO_OBSERVER: EngineObserver = { onChange() {}, onCancelRequested() {}, onGraceExceeded() {}, onRecovered() {}, onSelfFenced() {} };

export interface CancelOutcome {
  accepted: boolean;
  execution: Execution;
}

/** Errors a job can throw carry their message to the execution's `error`; abort reasons say why. */
class StopSignal extends Error {
  override readonly name = 'AbortError';
  constructor(readonly stopCause: StopCause, message: string) {
    // A signal, not a failure: its stack would only name abortLocal, yet every stream it destroys
    // formats it (Node reads err.stack on destroy), once per cancel. No frames: nothing to format.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

interface Moved {
  moved: boolean;
  execution: Execution;
}

/** A bulk step whose row moved on meanwhile (ended, cancelled): not moved, shown as it is now. */
async function settleConflict(step: Promise<Moved>, reread: () => Promise<Execution | null>): Promise<Moved | null> {
  try {
    return await step;
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const execution = await reread();
    return execution ? { moved: false, execution } : null;
  }
}

function bulk(results: readonly (Moved | null)[]): BulkOutcome {
  const done = results.filter((r): r is Moved => r !== null);
  return { affected: done.filter((r) => r.moved).length, executions: done.map((r) => r.execution) };
}

/**
 * Runs executions on this node: claims queued work up to the cap, hands each job its context, turns
 * how the job ended into exactly one terminal transition, and makes a cancel reach running code at
 * once (AbortSignal) and for good (the tombstone in the store, fencing, and the grace period).
 * It knows nothing of crawling or chat: jobs are looked up by kind.
 */
export class Engine {
  private readonly running = new Map<string, Running>();
  /**
   * Executions a transition of this node may have changed unannounced: the call failed, yet it may
   * have committed (its answer lost), and then nobody published its event. Rung again on each beat.
   */
  private readonly unsure = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  /**
   * Doorbells (cancel, or pause of an attempt) rung for executions whose code is not running here:
   * one committed while this node's claim of the row was on its way back is applied when the claimed
   * code is launched, so that code stops before its first request instead of a heartbeat later (a
   * paused crawl's site got its robots.txt, llms.txt and sitemap.xml requests after PAUSED). Kept
   * for a lease (performance.now() when rung).
   */
  private readonly early = new Map<string, { at: number; pause: { attempt: number } | null }>();
  /** Executions whose lease a renewal of their own is renewing, waiting for their row's lock (see `renewHeld`). */
  private readonly renewingHeld = new Set<string>();
  /** When the lease renewal and the sweep now in flight began (performance.now()); see `beat`. */
  private readonly beating = new Map<'renew' | 'sweep', number>();
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
  /**
   * How long a running execution's lease may go unconfirmed before this node aborts its code. Another
   * node may end a CANCELLING row once its grace period has passed since the cancel, and take a
   * RUNNING one once its lease ran out; both count from a moment no earlier than the database read of
   * our last confirmation. Stopping half a heartbeat before the sooner of the two means no code of
   * ours runs on (no request to a crawled site) once the row has ended or moved elsewhere, even when
   * neither the cancel nor the database reached us. It holds when the grace period and the lease are
   * at least two heartbeats (the defaults are 5 s, 3 s, 1 s); with less, a renewal needs room to come
   * back, so the fence waits at least a heartbeat and a half.
   */
  private readonly fenceAfterMs: number;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.pubsub = options.pubsub;
    this.jobs = new Map(options.jobs.map((job) => [job.kind, job]));
    if (this.jobs.size !== options.jobs.length) throw new Error('two jobs are registered for the same kind');
    this.config = options;
    this.log = options.log;
    this.observer = options.observer ?? NO_OBSERVER;
    const { cancelGraceMs, leaseMs, heartbeatMs } = options;
    this.fenceAfterMs = Math.max(Math.min(cancelGraceMs, leaseMs) - heartbeatMs / 2, heartbeatMs * 1.5);
  }

  /** Recovers what a dead process left behind, then starts taking work. */
  async start(): Promise<void> {
    try {
      await this.recoverOrphans(this.store.exclusive);
    } catch (error) {
      // A shared store's orphans are also recovered on every heartbeat: a database that is briefly
      // away at start-up does not keep the node from starting. One node's own store (SQLite) must
      // recover its rows before it takes work, so there the start fails.
      if (this.store.exclusive || !(error instanceof StoreUnavailableError)) throw error;
      this.log.warn({ err: error }, 'recovering orphans at start-up failed; the heartbeats retry');
    }
    this.listen();
    await this.listening();
    this.timers.push(setInterval(() => this.heartbeat(), this.config.heartbeatMs));
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
    // Best effort: a change this node may have made unannounced is rung before it goes.
    await this.ringUnsure().catch(() => {});
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
      const change = await this.move(id, CANCEL, { reason, by });
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
  async cancelMany(filter: BulkFilter, reason: string | null, by: string | null): Promise<CancelOutcome[]> {
    const active = await this.matching(filter, ACTIVE_STATUSES);
    return Promise.all(active.map((e) => this.cancel(e.id, reason, by)));
  }

  /**
   * Pauses one execution. QUEUED is held at once. RUNNING is paused under the row's lock, which
   * fences off every later write of its attempt (there is no PAUSING step: nothing is left for the
   * paused attempt to record); then its code is aborted here, or its node is rung, and its slot is
   * freed once the code returns (or after the grace period). Its checkpoint stays for the resume.
   * A kind that cannot resume is refused with CONFLICT, never turned into a cancel.
   */
  async pause(id: string, reason: string | null): Promise<Execution> {
    return (await this.pauseOne(id, reason)).execution;
  }

  /** Queues a paused execution again: it continues from its checkpoint as attempt + 1, on any node. */
  async resume(id: string): Promise<Execution> {
    return (await this.resumeOne(id)).execution;
  }

  /** Pauses every QUEUED or RUNNING execution that matches and can resume. */
  async pauseMany(filter: BulkFilter, reason: string | null): Promise<BulkOutcome> {
    const rows = (await this.matching(filter, ['QUEUED', 'RUNNING'])).filter((e) => this.resumable(e.kind));
    return bulk(await Promise.all(rows.map((e) => settleConflict(this.pauseOne(e.id, reason), () => this.store.getExecution(e.id)))));
  }

  /** Resumes every PAUSED execution that matches. */
  async resumeMany(filter: BulkFilter): Promise<BulkOutcome> {
    const rows = await this.matching(filter, ['PAUSED']);
    return bulk(await Promise.all(rows.map((e) => settleConflict(this.resumeOne(e.id), () => this.store.getExecution(e.id)))));
  }

  /** Changes the priority of a waiting (QUEUED or PAUSED) execution; CONFLICT once it runs or ended. */
  async setPriority(id: string, priority: number): Promise<Execution> {
    const change = await this.store.setPriority(id, priority);
    if (change) {
      this.publish(change);
      // not a status move, but the row every list shows changed (its place in the queue)
      this.pubsub.publish('execution:changed', change.execution);
      return change.execution;
    }
    const current = await this.store.getExecution(id);
    if (!current) throw new NotFoundError(`no execution has id "${id}"`);
    throw new ConflictError(`the priority of execution "${id}" can only be changed while it waits (QUEUED or PAUSED); it is ${current.status}`, {
      status: current.status,
    });
  }

  private async pauseOne(id: string, reason: string | null): Promise<Moved> {
    for (;;) {
      const current = await this.store.getExecution(id);
      if (!current) throw new NotFoundError(`no execution has id "${id}"`);
      if (!this.resumable(current.kind)) {
        throw new ConflictError(`a ${current.kind.toLowerCase()} cannot resume, so it cannot be paused; cancel it instead`, {
          kind: current.kind,
        });
      }
      if (current.status === 'PAUSED') return { moved: false, execution: current };
      if (current.status !== 'QUEUED' && current.status !== 'RUNNING') {
        const why = current.status === 'CANCELLING' ? 'it is being cancelled' : `it has already ended ${current.status}`;
        throw new ConflictError(`execution "${id}" cannot be paused: ${why}`, { status: current.status });
      }
      // One decision under the row's lock, whichever of QUEUED or RUNNING the row is in by then.
      const change = await this.move(id, 'pause', { reason });
      if (change) {
        this.publish(change);
        this.deliverPause(change.execution);
        return { moved: true, execution: change.execution };
      }
      // It moved between the read and the pause (ended, cancelled): decide again.
    }
  }

  private async resumeOne(id: string): Promise<Moved> {
    const change = await this.move(id, 'resume');
    if (change) {
      this.publish(change);
      this.kick();
      return { moved: true, execution: change.execution };
    }
    const current = await this.store.getExecution(id);
    if (!current) throw new NotFoundError(`no execution has id "${id}"`);
    // Resumed already (by another caller): the same answer again.
    if (current.status === 'QUEUED' || current.status === 'RUNNING') return { moved: false, execution: current };
    throw new ConflictError(`execution "${id}" is not paused: it is ${current.status}`, { status: current.status });
  }

  private resumable(kind: ExecutionKind): boolean {
    return this.jobs.get(kind)?.resumable ?? false;
  }

  /** The executions in one of `statuses` that match every filter given (ids: those of them that exist). */
  private async matching(filter: BulkFilter, statuses: readonly ExecutionStatus[]): Promise<Execution[]> {
    const { kind = null, sessionId = null } = filter;
    if (!filter.ids) return this.store.listExecutions({ kind, sessionId, statuses, oldestFirst: true });
    const rows = await Promise.all([...new Set(filter.ids)].map((id) => this.store.getExecution(id)));
    return rows.filter(
      (e): e is Execution => e !== null && statuses.includes(e.status) && (!kind || e.kind === kind) && (!sessionId || e.sessionId === sessionId),
    );
  }

  /** A transition of the store; when it fails, it may have committed: the execution is rung again on the next beat. */
  private async move(id: string, names: TransitionName | readonly TransitionName[], options?: TransitionOptions): Promise<Change | null> {
    try {
      return await this.store.transition(id, names, options);
    } catch (error) {
      if (error instanceof StoreUnavailableError) this.unsure.add(id);
      throw error;
    }
  }

  /**
   * Rings the doorbell again for executions a failed transition may have changed: publishes the last
   * event of each one's log and its row. A subscriber that already has that event drops it (seq); one
   * that missed it gets it, and the events before it from the log. Without this, a lost answer of a
   * terminal transition left every subscriber one event short of the end, for good.
   */
  private async ringUnsure(): Promise<void> {
    for (const id of [...this.unsure]) {
      const row = await this.store.getExecution(id);
      const last = row && row.lastSeq > 0 ? (await this.store.listEvents(id, row.lastSeq - 1, 1))[0] : undefined;
      this.unsure.delete(id);
      if (last) this.pubsub.publish('execution:event', id, last);
      if (row) this.pubsub.publish('execution:changed', row);
    }
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

  /** A paused RUNNING row keeps the node it ran on: stop that attempt's code there. A QUEUED one had none. */
  private deliverPause(execution: Execution): void {
    if (!execution.node) return;
    const local = this.running.get(execution.id);
    if (local && local.execution.attempt === execution.attempt) this.abortLocal(local, 'pause', 'paused');
    else this.pubsub.publish('execution:cancel', execution.node, { executionId: execution.id, pause: { attempt: execution.attempt } });
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
    const stopCancels = this.pubsub.listen('execution:cancel', this.config.nodeId, ({ executionId, pause }) => {
      const local = this.running.get(executionId);
      if (!local) return this.remember(executionId, pause ?? null);
      if (!pause) this.abortLocal(local, 'cancel', 'cancelled');
      else if (local.execution.attempt === pause.attempt) this.abortLocal(local, 'pause', 'paused');
    });
    const stopQueued = this.pubsub.listen('execution:changed', null, (execution) => {
      if (execution.status === 'QUEUED') this.kick();
    });
    this.stopListening = () => {
      stopCancels();
      stopQueued();
    };
  }

  /** A doorbell for code not running here (yet): see `early`. */
  private remember(executionId: string, pause: { attempt: number } | null): void {
    const now = performance.now();
    for (const [id, rung] of this.early) if (now - rung.at > this.config.leaseMs) this.early.delete(id);
    this.early.set(executionId, { at: now, pause });
  }

  /** Applies a doorbell rung before `r` was launched (see `early`): a cancel, or a pause of its attempt. */
  private applyEarly(r: Running): void {
    const rung = this.early.get(r.execution.id);
    if (!rung) return;
    this.early.delete(r.execution.id);
    if (performance.now() - rung.at > this.config.leaseMs) return;
    if (!rung.pause) this.abortLocal(r, 'cancel', 'cancelled');
    else if (rung.pause.attempt === r.execution.attempt) this.abortLocal(r, 'pause', 'paused');
  }

  private abortLocal(r: Running, cause: StopCause, message: string): void {
    if (!r.cause) {
      r.cause = cause;
      r.controller.abort(new StopSignal(cause, message));
    }
    if (cause === 'pause' && !r.finalised) {
      // The row is PAUSED and this attempt fenced off: nothing of it is left to record. Its slot is
      // freed when its code returns, or after the grace period if the code ignores its signal.
      r.finalised = true;
      if (!r.graceTimer) r.graceTimer = setTimeout(() => this.freeSlot(r), this.config.cancelGraceMs);
      return;
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

  /** (Re)arms the self-fence of `r` for fenceAfterMs after its last confirmation. */
  private armFence(r: Running): void {
    if (r.fenceTimer) clearTimeout(r.fenceTimer);
    r.fenceTimer = setTimeout(() => this.selfFence(r), Math.max(0, r.confirmedAt + this.fenceAfterMs - performance.now()));
  }

  /** The lease of `r` went unconfirmed for fenceAfterMs: stop its code before anyone else may end or take the row. */
  private selfFence(r: Running): void {
    r.fenceTimer = null;
    if (r.cause || r.finalised || this.running.get(r.execution.id) !== r) return;
    const silentMs = performance.now() - r.confirmedAt;
    if (silentMs < this.fenceAfterMs) return this.armFence(r);
    this.log.warn({ executionId: r.execution.id, silentMs: Math.round(silentMs) }, 'the lease went unconfirmed too long; stopping the code here before another node may end or take it');
    r.fencedAt = performance.now();
    this.observer.onSelfFenced();
    this.abortLocal(r, 'unconfirmed', `its node (${this.config.nodeId}) could not confirm its lease for ${Math.round(silentMs)} ms`);
  }

  private freeSlot(r: Running): void {
    if (this.running.get(r.execution.id) !== r) return;
    this.log.warn({ executionId: r.execution.id }, 'paused code did not stop within the grace period; its slot is freed anyway');
    this.running.delete(r.execution.id);
    this.kick();
  }

  /** The cancelled code did not stop within the grace period: end the row anyway; fencing does the rest. */
  private async finaliseLateCancel(r: Running): Promise<void> {
    if (r.finalised) return;
    r.finalised = true;
    this.log.warn({ executionId: r.execution.id }, 'cancelled code did not stop within the grace period');
    this.observer.onGraceExceeded();
    let change: Change | null;
    try {
      change = await this.move(r.execution.id, 'finishCancel', { reason: this.graceReason() });
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
    const sentAt = performance.now();
    const claimed = await this.store.claim(this.config.nodeId, room, this.config.leaseMs);
    for (const change of claimed) {
      this.publish(change);
      this.launch(change.execution, sentAt);
    }
  }

  private launch(execution: Execution, claimedAt: number): void {
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
    const r: Running = {
      execution, controller, context, cause: null, finalised: false, graceTimer: null, confirmedAt: claimedAt, fenceTimer: null, fencedAt: null, done: Promise.resolve(),
    };
    this.running.set(execution.id, r);
    this.armFence(r);
    this.applyEarly(r);
    r.done = this.runJob(job, r, log).finally(() => {
      if (r.graceTimer) clearTimeout(r.graceTimer);
      if (r.fenceTimer) clearTimeout(r.fenceTimer);
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
      change = await this.move(id, 'succeed', { attempt, result: outcome.result });
    } else if (r.cause === 'shutdown') {
      change = await this.release(r.execution, `its node (${this.config.nodeId}) shut down`);
    } else if (r.cause === 'unconfirmed') {
      // Stopped by its own node, not by its job: resumes from the checkpoint, like a dead node's work.
      // Fenced by attempt: refused if another node has taken it over (or it is being cancelled).
      change = await this.release(r.execution, `its node (${this.config.nodeId}) lost touch with the database`);
    } else if (r.cause === null && outcome.error instanceof StoreUnavailableError) {
      // The database went away under the job, not the job's fault: release it like a dead node's work.
      // If the database is still away this throws, and the lease running out does the same later.
      change = await this.release(r.execution, 'the database could not be reached');
    } else if (r.cause !== 'cancel' && r.cause !== 'lost') {
      const error = outcome.error;
      const message = error instanceof Error ? error.message : String(error);
      if (!isAbortError(error) && !(error instanceof FencedError)) r.context.log.warn({ err: error }, 'job failed');
      change = await this.move(id, 'fail', { attempt, error: message });
    }
    // Cancelled while running (or finished while a cancel was being written): the tombstone wins.
    // Fenced by attempt: code that lost its row (a pause, a takeover) must not end a later attempt's cancel.
    return change ?? (await this.move(id, 'finishCancel', { attempt }));
  }

  /**
   * Ends this attempt when the job is not at fault (its node stopped, the database went away): it
   * resumes from its checkpoint (attempt + 1), or ends INTERRUPTED if its kind cannot resume — a
   * chat answer restarted from scratch would repeat the TOKEN events it already wrote.
   */
  private release(execution: Execution, why: string, options: Pick<TransitionOptions, 'ifLeaseExpired' | 'skipLocked'> = {}): Promise<Change | null> {
    const resumable = this.jobs.get(execution.kind)?.resumable ?? false;
    return this.move(execution.id, resumable ? 'requeue' : 'interrupt', {
      ...options,
      attempt: execution.attempt,
      reason: resumable ? `${why}; resuming from the checkpoint` : `${why} while it ran, and a ${execution.kind.toLowerCase()} cannot resume`,
    });
  }

  /**
   * One heartbeat: the lease renewal (with the re-read of each running execution) and the sweep
   * (lost answers rung again, orphans recovered, overdue cancels ended, queued work polled), each
   * on its own so a slow sweep never holds up a renewal. Neither starts while its previous run is
   * still going: on a loaded database, beats that overlapped piled up (30 and more in flight on one
   * node), each holding a pooled connection while it waited, until the node's pool was all in that
   * queue and its renewals and cancels waited with them. A run in flight longer than a lease is
   * taken for hung, and the next beat starts another beside it.
   */
  private heartbeat(): void {
    this.beat('renew', () => this.renew());
    this.beat('sweep', () => this.sweep());
  }

  private beat(kind: 'renew' | 'sweep', run: () => Promise<void>): void {
    const since = this.beating.get(kind);
    if (since !== undefined && performance.now() - since < this.config.leaseMs) return;
    const started = performance.now();
    this.beating.set(kind, started);
    void run().finally(() => {
      if (this.beating.get(kind) === started) this.beating.delete(kind);
    });
  }

  /** Lease renewal plus a re-read of each running execution: a lost cancel message costs one beat. */
  private async renew(): Promise<void> {
    try {
      // Code this node was told it no longer owns is not renewed: its lease runs out, so a survivor
      // (or this node's own sweep) can end the row even if that code never returns.
      // Code stopped because its lease went unconfirmed is still this node's to release when it
      // returns, so its lease is renewed meanwhile, for a grace period at most (code that ignores its
      // signal must not hold the row for ever).
      const sent = [...this.running.values()].filter((r) => this.renewable(r));
      const ids = sent.map((r) => r.execution.id);
      if (ids.length > 0) {
        // Rows another transaction holds locked (on PostgreSQL) are skipped, not waited for: while
        // the renewal waited for one row's lock, every other execution of the node went unrenewed,
        // and the next beats skipped their renewal as this one was still in flight (CHAOS_DIAG: a
        // renewal 653 ms behind one write idle in transaction; the node fenced its own code and a
        // lease ran out). Each skipped row is renewed on its own, waiting for its lock, beside the beats.
        const sentAt = performance.now();
        const rows = await this.store.renewLeases(this.config.nodeId, ids, this.config.leaseMs, { skipLocked: true });
        this.confirm(rows, sentAt, sent);
        const answered = new Set(rows.map((row) => row.id));
        const held = sent.filter((r) => !answered.has(r.execution.id) && !this.renewingHeld.has(r.execution.id));
        if (held.length > 0) this.renewHeld(held);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'renewing leases failed; retrying on the next beat');
    }
  }

  /** Renews rows a renewal skipped (locked by another transaction), waiting for their locks, one call for them all. */
  private renewHeld(sent: readonly Running[]): void {
    const ids = sent.map((r) => r.execution.id);
    for (const id of ids) this.renewingHeld.add(id);
    const sentAt = performance.now();
    const renewal = this.store
      .renewLeases(this.config.nodeId, ids, this.config.leaseMs)
      .then((rows) => this.confirm(rows, sentAt, sent))
      .finally(() => ids.forEach((id) => this.renewingHeld.delete(id)));
    this.inBackground(renewal, 'renewing a lease held up by a lock');
  }

  /**
   * What a renewal sent at `sentAt` for the code in `sent` answered: leases confirmed, and cancels,
   * pauses and lost rows heard. An answer is only about the code it was sent for: code launched
   * since (a later attempt, claimed here while the renewal was on its way) is not judged by it.
   */
  private confirm(rows: readonly Execution[], sentAt: number, sent: readonly Running[]): void {
    const asked = new Map(sent.map((r) => [r.execution.id, r]));
    for (const row of rows) {
      const r = this.running.get(row.id);
      if (!r || asked.get(row.id) !== r) continue;
      const ours = row.node === this.config.nodeId && row.attempt === r.execution.attempt;
      if (ours && (row.status === 'RUNNING' || row.status === 'CANCELLING') && sentAt > r.confirmedAt) {
        r.confirmedAt = sentAt;
        if (!r.cause) this.armFence(r);
      }
      if (row.status === 'CANCELLING') this.abortLocal(r, 'cancel', row.cancelReason ?? 'cancelled');
      else if (row.status === 'PAUSED' && row.attempt === r.execution.attempt) this.abortLocal(r, 'pause', 'paused');
      else if (row.status !== 'RUNNING' || row.attempt !== r.execution.attempt || row.node !== this.config.nodeId)
        this.abortLocal(r, 'lost', 'another node took this execution over');
    }
  }

  /**
   * Whether this node renews the lease of `r`: not once it was told it no longer owns the row, nor
   * once code it stopped itself (self-fence) has ignored its signal for a grace period.
   */
  private renewable(r: Running): boolean {
    return r.cause !== 'lost' && !(r.fencedAt !== null && performance.now() - r.fencedAt > this.config.cancelGraceMs);
  }

  /** What every node sweeps on each beat, whichever node the rows belong to. */
  private async sweep(): Promise<void> {
    try {
      await this.ringUnsure();
      // On one SQLite node too: a row whose claim or final write was lost on its way has no worker.
      await this.recoverOrphans(false);
      await this.finishOverdueCancels();
      this.kick();
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat sweep failed; retrying on the next beat');
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
    // A row whose lock another transaction holds is left to the next beat (see skipLocked).
    const ifLeaseExpired = !all;
    const skipLocked = true;
    for (const row of orphans) {
      // Code of ours whose lease we no longer renew is no reason to leave the row: on one SQLite
      // node, this node is the only one that can take it (the code stays fenced off, and its slot is
      // given back once the row has moved on).
      const mine = this.running.get(row.id);
      if (mine && this.renewable(mine)) continue;
      let change: Change | null;
      if (row.status === 'CANCELLING') {
        change = await this.move(row.id, 'finishCancel', { reason: 'its node stopped before it did', ifLeaseExpired, skipLocked });
      } else {
        change = await this.release(row, `its node (${row.node ?? 'unknown'}) stopped`, { ifLeaseExpired, skipLocked });
      }
      if (change) {
        if (mine && this.running.get(row.id) === mine) this.running.delete(row.id);
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
      // Code of ours that has not heard the cancel (its answer or its message was lost) stops first.
      const mine = this.running.get(row.id);
      if (mine) this.abortLocal(mine, 'cancel', row.cancelReason ?? 'cancelled');
      const change = await this.move(row.id, 'finishCancel', { reason: this.graceReason(), ifCancelRequestedMsAgo: this.config.cancelGraceMs, skipLocked: true });
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
