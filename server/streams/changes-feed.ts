// executionChanged on this node: one listener, one rendering per group (operation + access scope).
import type { Execution } from '../executions/types.ts';
import type { SluicePubSub } from '../pubsub.ts';
import type { FeedHooks } from './execution-feed.ts';
import type { Group } from './group.ts';
import type { Member, MemberHome } from './member.ts';

/** Executions whose newest row is remembered (to drop older rows arriving late, and for laggards). */
const REMEMBERED = 10_000;

/**
 * Status changes of every execution, heard once and sent to every group. Of two rows of one
 * execution the one with the higher lastSeq wins, whatever the order they arrive in (from two nodes a
 * CANCELLING can arrive after its CANCELLED). A member whose socket is congested is sent no backlog:
 * it keeps the ids that changed, and once drained gets the newest row of each.
 */
export class ChangesFeed implements MemberHome {
  readonly groups = new Map<string, Group<Member>>();
  members = 0;
  private readonly latest = new Map<string, Execution>();
  private readonly lagging = new Set<Member>();
  private readonly queue: Execution[] = [];
  private pumping = false;
  private readonly unlisten: () => void;

  constructor(
    pubsub: SluicePubSub,
    private readonly hooks: Pick<FeedHooks, 'lag' | 'forget' | 'warn'> & { empty(): void },
  ) {
    this.unlisten = pubsub.listen('execution:changed', null, (execution) => this.onChange(execution));
  }

  join(member: Member): void {
    this.members++;
    member.state = 'live';
    member.group.live.add(member);
  }

  ended(member: Member): void {
    this.lagging.delete(member);
    this.hooks.forget(member);
    if (member.group.size === 0) this.groups.delete(member.group.key);
    if (--this.members === 0) this.dispose();
  }

  /** Back from lagging: the newest row of each execution that changed meanwhile, then live. */
  resume(member: Member): void {
    void (async () => {
      while (member.open) {
        const ids = member.pending ?? new Set<string>();
        member.pending = new Set();
        // Nothing changed since the last pass: join the live set in this same synchronous step.
        if (ids.size === 0) break;
        for (const id of ids) {
          const row = this.latest.get(id);
          if (row && member.open) member.send(await member.group.render(row));
        }
      }
      this.lagging.delete(member);
      member.pending = null;
      if (!member.open) return;
      member.state = 'live';
      member.group.live.add(member);
      if (member.congested) this.lag(member);
    })().catch((error: unknown) => member.end(error));
  }

  dispose(): void {
    this.unlisten();
    this.hooks.empty();
  }

  private lag(member: Member): void {
    member.pending = new Set();
    this.lagging.add(member);
    this.hooks.lag(member);
  }

  private onChange(execution: Execution): void {
    const known = this.latest.get(execution.id);
    if (known && known.lastSeq > execution.lastSeq) return;
    this.latest.delete(execution.id);
    this.latest.set(execution.id, execution);
    if (this.latest.size > REMEMBERED) this.latest.delete(this.latest.keys().next().value!);
    this.queue.push(execution);
    if (!this.pumping) void this.pump();
  }

  /** Sends queued rows in order; each rendered once per group (synchronously, unless a resolver waits). */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length) {
        const execution = this.queue.shift()!;
        for (const member of this.lagging) member.pending?.add(execution.id);
        for (const group of this.groups.values()) {
          if (group.live.size === 0) continue;
          const rendered = group.render(execution);
          const payload = typeof rendered === 'string' ? rendered : await rendered;
          for (const member of group.live) {
            member.send(payload);
            if (member.congested) this.lag(member);
          }
        }
      }
    } catch (error) {
      this.hooks.warn(error, 'executionChanged: a delivery failed');
    } finally {
      this.pumping = false;
    }
  }
}
