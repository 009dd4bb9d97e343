// One graphql-ws subscription in a fan-out group: a socket, the subscription id, and where it is.
import type { Group, GroupMember } from './group.ts';

/** What a member writes to: a ws WebSocket fits. */
export interface Sink {
  send(data: string): void;
  readonly bufferedAmount: number;
  readonly readyState: number;
  close(code?: number, reason?: string): void;
}

/** WebSocket.OPEN */
const OPEN = 1;

/** The feed a member belongs to. */
export interface MemberHome {
  /** The member ended: forget it. */
  ended(member: Member): void;
  /** The member lagged and its socket has drained: bring it back to the live stream. */
  resume(member: Member): void;
}

export type MemberState = 'catching-up' | 'live' | 'lagging' | 'done';

/**
 * A subscriber. Holds only what sending needs: the socket, the frame prefix with its subscription
 * id, the last seq it was sent, and its group (which holds the operation, context and payloads).
 */
export class Member implements GroupMember {
  state: MemberState = 'catching-up';
  /** seq of the last event sent (jobProgress); lastSeq is per execution for executionChanged. */
  last: number;
  /** When it started lagging (ms, performance.now()). */
  laggingSince = 0;
  /** executionChanged: ids that changed while it lagged. */
  pending: Set<string> | null = null;
  readonly sink: Sink;
  readonly group: Group<Member>;
  /** graphql-ws: the start of a `next` frame with its subscription id; SSE: null (its sink frames). */
  private readonly prefix: string | null;
  private readonly highWater: number;
  private readonly stream: ParkedStream;
  private readonly release: () => void;
  readonly home: MemberHome;

  constructor(options: {
    sink: Sink;
    /** graphql-ws's subscription id; null over SSE (one subscription per response). */
    subscriptionId: string | null;
    group: Group<Member>;
    afterSeq: number;
    /** Bytes its socket may have waiting before it leaves the live stream. */
    highWater: number;
    /** The stream graphql-ws (or the SSE response) holds: ending it sends `complete` (or `error`, with an error). */
    stream: ParkedStream;
    release: () => void;
    /** The feed it belongs to. */
    home: MemberHome;
  }) {
    this.sink = options.sink;
    this.group = options.group;
    this.last = options.afterSeq;
    this.highWater = options.highWater;
    this.stream = options.stream;
    options.stream.member = this;
    this.release = options.release;
    this.home = options.home;
    this.prefix = options.subscriptionId === null ? null : `{"id":${JSON.stringify(options.subscriptionId)},"type":"next","payload":`;
  }

  /** Its socket has more waiting than it may. */
  get congested(): boolean {
    return this.sink.bufferedAmount > this.highWater;
  }

  /** Its socket has drained enough to take more. */
  get drained(): boolean {
    return this.sink.bufferedAmount <= this.highWater / 4;
  }

  get open(): boolean {
    return this.state !== 'done' && this.sink.readyState === OPEN;
  }

  /** Sends one payload: the group's text inside this subscription's `next` frame (the SSE sink frames its own). */
  send(payload: string): void {
    this.sink.send(this.prefix === null ? payload : this.prefix + payload + '}');
  }

  deliver(seq: number, payload: string, terminal: boolean): void {
    if (seq <= this.last || this.state === 'done') return;
    this.send(payload);
    this.last = seq;
    if (terminal) this.end();
  }

  /** The subscription ends (its stream completed, failed, or its client left). */
  end(error?: unknown): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.group.live.delete(this);
    this.group.size--;
    this.release();
    this.home.ended(this);
    this.stream.end(error);
  }
}

const DONE = { done: true, value: undefined } as IteratorResult<never>;

/**
 * The async iterator graphql-ws holds for a fan-out subscription. It yields nothing (the fan-out
 * writes `next` frames itself); it completes when the member ends, and `return()` (the client
 * completed or left) ends the member at once. A class, not closures: thousands are idle at once.
 */
export class ParkedStream implements AsyncGenerator<never> {
  /** The member it carries (set by the member): a consumer that leaves ends it. */
  member: { end(): void } | null = null;
  private settle: ((result: IteratorResult<never>) => void) | null = null;
  private fail: ((error: unknown) => void) | null = null;
  private ended: { error?: unknown } | null = null;

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = { error };
    if (error === undefined) this.settle?.(DONE);
    else this.fail?.(error);
    this.settle = this.fail = null;
  }

  next(): Promise<IteratorResult<never>> {
    return new Promise<IteratorResult<never>>((resolve, reject) => {
      const ended = this.ended;
      if (ended) return ended.error === undefined ? resolve(DONE) : reject(ended.error);
      this.settle = resolve;
      this.fail = reject;
    });
  }

  async return(): Promise<IteratorResult<never>> {
    this.member?.end();
    this.end();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<never>> {
    this.member?.end();
    this.end();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
