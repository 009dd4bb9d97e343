// The live events of one execution on this node, heard once (one pub/sub listener: with Redis, one
// channel subscription per execution) and sent to every group that watches it.
import { isTerminal } from '../executions/status.ts';
import { StoreUnavailableError, type ExecutionEvent } from '../executions/types.ts';
import type { SluicePubSub } from '../pubsub.ts';
import type { Store } from '../store/store.ts';
import type { Group } from './group.ts';
import type { Member, MemberHome } from './member.ts';

const isTerminalEvent = (event: ExecutionEvent): boolean => event.type === 'STATUS' && isTerminal(event.status);

/** Events read from the log at a time (replay, gap refill). */
const REPLAY_PAGE = 500;
/** Recent events kept, so a subscriber close behind the live edge joins without reading the log. */
const RING = 256;
/** Live events queued while a delivery waits (a gap refill); beyond this the log is read instead. */
const MAX_QUEUED = 1000;
/**
 * With a shared store (several nodes) one Redis message can be lost (an outage, a re-subscribe), and a
 * lost last event has no later one to reveal the gap: a feed that heard nothing for this long re-reads
 * the log after its live edge. One read per watched execution, whatever the number of subscribers.
 */
export const IDLE_REFILL_MS = 2000;
/**
 * A log read the feed owes its members (a gap refill, an overflow, an idle read) that failed is tried
 * again after this long, doubling up to IDLE_REFILL_MS while the store keeps failing. So is a
 * member's replay, and the feed's first read of its row, when the database could not be reached.
 */
const RETRY_FIRST_MS = 50;

export interface FeedHooks {
  /** A member whose socket has too much waiting: it stops receiving live events until it drains. */
  lag(member: Member): void;
  /** A member ended (it may have been lagging). */
  forget(member: Member): void;
  /** The feed has no member left. */
  empty(feed: ExecutionFeed): void;
  /** A failure that ends no stream (a refill that failed is tried again shortly). */
  warn(error: unknown, message: string): void;
}

/**
 * Seam rule: the feed's `edge` is the seq of the last event it delivered live, and every event up to
 * it is in the log. A member first reads the log (a page at a time, at its own pace) until it reaches
 * the edge, then joins its group's live set in the same synchronous step as that check, so the next
 * event the feed delivers is the next one it needs: no gap. Members drop events at or below their own
 * last seq (the log may be ahead of the edge): no duplicate.
 */
export class ExecutionFeed implements MemberHome {
  readonly groups = new Map<string, Group<Member>>();
  members = 0;
  private edge = 0;
  private finished = false;
  /** The first read of the row (the live edge); null until made, and again after it failed. */
  private ready: Promise<void> | null = null;
  private readonly ring: ExecutionEvent[] = [];
  private readonly queue: ExecutionEvent[] = [];
  private overflowed = false;
  /** The delivery of queued events under way (see pump). */
  private pumping: Promise<void> | null = null;
  private disposed = false;
  private readonly unlisten: () => void;
  private readonly idle: NodeJS.Timeout | null;
  private retry: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;

  constructor(
    readonly executionId: string,
    private readonly store: Store,
    pubsub: SluicePubSub,
    private readonly hooks: FeedHooks,
  ) {
    // Listening starts before the row is read: an event committed after the read is heard.
    this.unlisten = pubsub.listen('execution:event', executionId, (event) => this.onLive(event));
    void this.whenReady().catch(() => {}); // members see a failure when they wait for it, and read again
    this.idle = store.exclusive ? null : setTimeout(() => this.onIdle(), IDLE_REFILL_MS);
    this.idle?.unref();
  }

  /** Adds a member (already counted in its group) and brings it to the live edge. */
  join(member: Member): void {
    this.members++;
    void this.catchUp(member);
  }

  ended(member: Member): void {
    this.hooks.forget(member);
    if (member.group.size === 0) this.groups.delete(member.group.key);
    if (--this.members === 0) this.dispose();
  }

  resume(member: Member): void {
    member.state = 'catching-up';
    void this.catchUp(member);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.unlisten();
    if (this.idle) clearTimeout(this.idle);
    if (this.retry) clearTimeout(this.retry);
    this.hooks.empty(this);
  }

  /**
   * Replays the log to `member` from its last seq until the live edge, then makes it live. A read
   * that fails because the database could not be reached is tried again shortly (backing off), as
   * long as the member waits: a database hiccup does not end a subscription.
   */
  async catchUp(member: Member): Promise<void> {
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(wait * 2, IDLE_REFILL_MS)) {
      try {
        return await this.replay(member);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || this.disposed || !member.open) return member.end(error);
        if (member.state !== 'catching-up') return;
        this.hooks.warn(error, 'stream: a replay could not read the log; trying again shortly');
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        if (!member.open) return member.end();
        if (member.state !== 'catching-up') return;
      }
    }
  }

  /** The first read of the row, made again by whoever waits for it after it failed. */
  private whenReady(): Promise<void> {
    if (!this.ready) {
      const read = this.store.getExecution(this.executionId).then((row) => {
        this.edge = row?.lastSeq ?? 0;
        this.finished = !row || isTerminal(row.status);
      });
      read.catch(() => {
        if (this.ready === read) this.ready = null;
      });
      this.ready = read;
    }
    return this.ready;
  }

  private async replay(member: Member): Promise<void> {
    await this.whenReady();
    while (member.state === 'catching-up' && member.open) {
      if (member.last >= this.edge) return this.goLive(member);
      const first = this.ring[0];
      if (first && first.seq <= member.last + 1) {
        // The rest is in memory: render what is missing, then send it all and go live in one
        // synchronous step. A payload that is a string is taken as it is: awaiting it would yield,
        // and live events delivered meanwhile would pass this member by (it is not live yet) while
        // it joins at the edge it saw. After a real wait the edge may have moved: then look again.
        const edge = this.edge;
        const missing = this.ring.filter((e) => e.seq > member.last);
        const payloads: string[] = [];
        for (const event of missing) {
          const payload = member.group.render(event, event.seq);
          payloads.push(typeof payload === 'string' ? payload : await payload);
        }
        if (edge !== this.edge || member.state !== 'catching-up') continue;
        for (const [i, event] of missing.entries()) {
          member.deliver(event.seq, payloads[i]!, isTerminalEvent(event));
          if (this.backedUp(member)) return;
        }
        if (member.state === 'catching-up') this.goLive(member);
        return;
      }
      if (member.congested) return this.hooks.lag(member);
      const page = await this.store.listEvents(this.executionId, member.last, Math.min(REPLAY_PAGE, this.edge - member.last));
      for (const event of page) {
        if (member.state !== 'catching-up') return;
        member.deliver(event.seq, await member.group.render(event, event.seq), isTerminalEvent(event));
        if (this.backedUp(member)) return;
      }
      if (page.length === 0) return this.goLive(member); // cannot happen: the log holds everything up to the edge
    }
  }

  /**
   * After each replayed event: true when the member is no longer catching up (its terminal event was
   * sent), or when its socket is congested, which makes it lag. A backlog fills a socket as surely as
   * live events do, and with no live event to follow nothing else would notice: it would stay live
   * with its buffer over the mark (never closed if its client is stuck). Lagging, it goes on from the
   * log once drained.
   */
  private backedUp(member: Member): boolean {
    if (member.state !== 'catching-up') return true;
    if (!member.congested) return false;
    this.hooks.lag(member);
    return true;
  }

  private goLive(member: Member): void {
    if (this.finished && member.last >= this.edge) return member.end();
    member.state = 'live';
    member.group.live.add(member);
  }

  private onLive(event: ExecutionEvent): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.queue.length = 0;
      this.overflowed = true;
    }
    this.queue.push(event);
    this.idle?.refresh();
    void this.pump();
  }

  private onIdle(): void {
    this.reread();
    this.idle?.refresh();
  }

  /**
   * Reads the log after the live edge (an idle feed; pub/sub back after an outage, when what was
   * published meanwhile is lost): what a lost message held reaches the members now. Resolves once
   * read (a failed read is tried again later, see retryLater).
   */
  reread(): Promise<void> {
    if (this.disposed || this.finished) return Promise.resolve();
    this.overflowed = true;
    return this.pump();
  }

  /**
   * Delivers queued live events in seq order; a gap (or an overflow) is filled from the log. A read
   * that fails is tried again shortly (see retryLater): the event that showed the gap has been taken
   * off the queue, and when it was the last one (a terminal status) no later event would show it.
   */
  private pump(): Promise<void> {
    this.pumping ??= this.deliverQueued();
    return this.pumping;
  }

  private async deliverQueued(): Promise<void> {
    try {
      await this.whenReady();
      while (!this.disposed && (this.overflowed || this.queue.length)) {
        if (this.overflowed) {
          this.overflowed = false;
          await this.refill(Infinity);
          continue;
        }
        const event = this.queue.shift()!;
        if (event.seq <= this.edge) continue;
        if (event.seq > this.edge + 1) await this.refill(event.seq - 1);
        if (event.seq === this.edge + 1) await this.deliver(event);
      }
      this.retryMs = RETRY_FIRST_MS;
    } catch (error) {
      this.hooks.warn(error, 'stream: reading the log for a live delivery failed; trying again shortly');
      this.retryLater();
    } finally {
      // at the end of this same step (the body always waits first, so `pump` has set it by now)
      this.pumping = null;
    }
  }

  /**
   * After a failed read: everything after the edge is owed to the members, and it is all in the log
   * (an event is published only once it has committed), so one read after the edge brings it, the
   * event that showed the gap included. Tried again soon, backing off while the store keeps failing,
   * rather than left to the idle read (2 s later with a shared store; never with SQLite's).
   */
  private retryLater(): void {
    if (this.disposed || this.retry) return;
    this.overflowed = true;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.disposed) void this.pump();
    }, this.retryMs);
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, IDLE_REFILL_MS);
  }

  private async refill(until: number): Promise<void> {
    while (!this.disposed && this.edge < until) {
      const page = await this.store.listEvents(this.executionId, this.edge, Math.min(REPLAY_PAGE, until - this.edge));
      for (const event of page) if (event.seq === this.edge + 1) await this.deliver(event);
      if (page.length < REPLAY_PAGE) return;
    }
  }

  /** Renders `event` once per group with live members, then sends it to all of them in one step. */
  private async deliver(event: ExecutionEvent): Promise<void> {
    const payloads = new Map<Group<Member>, string>();
    for (;;) {
      let missing = false;
      for (const group of this.groups.values()) {
        if (group.live.size === 0 || payloads.has(group)) continue;
        missing = true;
        const payload = group.render(event, event.seq);
        payloads.set(group, typeof payload === 'string' ? payload : await payload);
      }
      if (!missing) break; // a group that went live during a wait is rendered on the next pass
    }
    this.edge = event.seq;
    this.ring.push(event);
    if (this.ring.length > RING) this.ring.shift();
    const terminal = isTerminalEvent(event);
    if (terminal) this.finished = true;
    for (const [group, payload] of payloads) {
      for (const member of group.live) {
        member.deliver(event.seq, payload, terminal);
        if (member.state === 'live' && member.congested) this.hooks.lag(member);
      }
    }
  }
}
