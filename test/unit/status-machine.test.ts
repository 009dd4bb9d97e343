import { describe, expect, it } from 'vitest';
import { initialProgress, mergeProgress } from '../../server/executions/progress.ts';
import { EXECUTION_STATUSES, TERMINAL_STATUSES, TRANSITIONS, type ExecutionStatus, type TransitionName } from '../../server/executions/status.ts';
import type { Execution } from '../../server/executions/types.ts';
import { planTransition, planWrite } from '../../server/executions/plan.ts';

const row = (status: ExecutionStatus, attempt = 1): Execution => ({
  id: 'e1', kind: 'CRAWL', status, title: 't', sessionId: null, input: {}, result: null, createdAt: 1, startedAt: null,
  finishedAt: null, cancelRequestedAt: null, cancelReason: null, error: null, attempt, lastSeq: 3, node: 'n',
  leaseUntil: null, progress: initialProgress(), createdBy: null, cancelledBy: null, priority: 0,
});

const names = Object.keys(TRANSITIONS) as TransitionName[];

describe('status machine', () => {
  it('allows exactly the moves of ARCHITECTURE.md', () => {
    const allowed = new Set<string>();
    for (const status of EXECUTION_STATUSES)
      for (const name of names) {
        const planned = planTransition(row(status), name, {}, 10);
        if (planned) allowed.add(`${status}->${planned.next.status}`);
      }
    expect([...allowed].sort()).toEqual(
      [
        'QUEUED->RUNNING', 'RUNNING->SUCCEEDED', 'RUNNING->FAILED', 'QUEUED->CANCELLED', 'RUNNING->CANCELLING',
        'CANCELLING->CANCELLED', 'RUNNING->QUEUED', 'RUNNING->INTERRUPTED',
        'QUEUED->PAUSED', 'RUNNING->PAUSED', 'PAUSED->QUEUED', 'PAUSED->CANCELLED',
      ].sort(),
    );
  });

  it('decides every status x transition pair as the table says', () => {
    const expected: Record<ExecutionStatus, Partial<Record<TransitionName, ExecutionStatus>>> = {
      QUEUED: { claim: 'RUNNING', cancelQueued: 'CANCELLED', pause: 'PAUSED' },
      RUNNING: {
        succeed: 'SUCCEEDED', fail: 'FAILED', requestCancel: 'CANCELLING', requeue: 'QUEUED', interrupt: 'INTERRUPTED', pause: 'PAUSED',
      },
      CANCELLING: { finishCancel: 'CANCELLED' },
      PAUSED: { resume: 'QUEUED', cancelPaused: 'CANCELLED' },
      CANCELLED: {}, SUCCEEDED: {}, FAILED: {}, INTERRUPTED: {},
    };
    for (const status of EXECUTION_STATUSES)
      for (const name of names) expect([status, name, planTransition(row(status), name, {}, 1)?.next.status ?? null]).toEqual([status, name, expected[status][name] ?? null]);
  });

  it('pauses keeping the checkpointed attempt; a resume starts the next attempt; a paused one cancels at once', () => {
    const paused = planTransition(row('RUNNING', 2), 'pause', { reason: 'later' }, 5)!;
    expect(paused.next).toMatchObject({ status: 'PAUSED', attempt: 2, leaseUntil: null, finishedAt: null, node: 'n' });
    expect(paused.event).toMatchObject({ type: 'STATUS', status: 'PAUSED', message: 'paused: later' });
    expect(() => planWrite(paused.next, { executionId: 'e1', attempt: 2 }, {}, 6)).toThrow(/moved on/);
    const resumed = planTransition(paused.next, 'resume', {}, 7)!;
    expect(resumed.next).toMatchObject({ status: 'QUEUED', attempt: 3, node: null });
    expect(planTransition(row('PAUSED'), ['cancelQueued', 'requestCancel', 'cancelPaused'], { reason: 'r' }, 8)?.next).toMatchObject({
      status: 'CANCELLED', finishedAt: 8, cancelReason: 'r',
    });
  });

  it('never leaves a terminal state, and CANCELLING only for CANCELLED', () => {
    for (const status of TERMINAL_STATUSES) for (const name of names) expect(planTransition(row(status), name, {}, 1)).toBeNull();
    const out = names.map((n) => planTransition(row('CANCELLING'), n, {}, 1)?.next.status).filter(Boolean);
    expect(out).toEqual(['CANCELLED']);
  });

  it('fences worker moves by attempt, and a requeue starts a new attempt', () => {
    expect(planTransition(row('RUNNING', 2), 'succeed', { attempt: 1 }, 1)).toBeNull();
    expect(planTransition(row('RUNNING', 2), 'succeed', { attempt: 2 }, 1)?.next.status).toBe('SUCCEEDED');
    expect(planTransition(row('RUNNING', 2), 'requeue', { attempt: 2 }, 1)?.next.attempt).toBe(3);
  });

  it('writes one STATUS event with the next seq', () => {
    const planned = planTransition(row('RUNNING'), 'requestCancel', { reason: 'user pressed Stop', by: 'local' }, 42)!;
    expect(planned.event).toMatchObject({ seq: 4, type: 'STATUS', status: 'CANCELLING', message: 'user pressed Stop', at: 42 });
    expect(planned.next).toMatchObject({ lastSeq: 4, cancelRequestedAt: 42, cancelReason: 'user pressed Stop', cancelledBy: 'local' });
  });

  it('refuses job writes unless RUNNING at the same attempt', () => {
    for (const status of EXECUTION_STATUSES.filter((s) => s !== 'RUNNING'))
      expect(() => planWrite(row(status), { executionId: 'e1', attempt: 1 }, {}, 1)).toThrow(/moved on/);
    expect(() => planWrite(row('RUNNING', 2), { executionId: 'e1', attempt: 1 }, {}, 1)).toThrow(/moved on/);
    expect(planWrite(row('RUNNING'), { executionId: 'e1', attempt: 1 }, { event: { type: 'LOG', message: 'm' } }, 1).event?.seq).toBe(4);
  });
});

describe('progress', () => {
  it('never goes down, whatever order patches arrive in', () => {
    let p = mergeProgress(initialProgress(), { percent: 50, pagesFetched: 5, stage: 'fetching' });
    p = mergeProgress(p, { percent: 20, pagesFetched: 3, pagesFailed: 1 });
    expect(p).toMatchObject({ percent: 50, pagesFetched: 5, pagesFailed: 1, stage: 'fetching' });
    expect(mergeProgress(p, { percent: 400 }).percent).toBe(100);
    expect(mergeProgress(p, { percent: null }).percent).toBe(50);
  });
});
