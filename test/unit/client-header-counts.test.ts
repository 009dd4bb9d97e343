// The header's "N running": only RUNNING executions count; PAUSED ones are counted apart (issue 15:
// it counted every active execution, paused ones included).
import { describe, expect, it } from 'vitest';
import { headerCounts } from '../../client/lib/header-counts.ts';
import { newEntry } from '../../client/lib/reconcile.ts';
import { fakeExecution } from '../helpers/client-helpers.ts';

const entry = (n: number, status: string, patch: Record<string, unknown> = {}) =>
  Object.assign(newEntry(fakeExecution(`00000000-0000-0000-0000-00000000000${n}`, { status } as never), 0), patch);

describe('header counts', () => {
  it('counts RUNNING as running and PAUSED apart; queued and stopping are neither', () => {
    const entries = [entry(1, 'RUNNING'), entry(2, 'PAUSED'), entry(3, 'PAUSED'), entry(4, 'QUEUED'), entry(5, 'CANCELLING'), entry(6, 'RUNNING')];
    expect(headerCounts(entries)).toEqual({ running: 2, paused: 2 });
  });

  it('counts what the user sees: a pause just pressed is paused, Stop just pressed is not running', () => {
    const entries = [entry(1, 'RUNNING', { control: 'pausing' }), entry(2, 'RUNNING', { stopping: true }), entry(3, 'PAUSED', { control: 'resuming' })];
    expect(headerCounts(entries)).toEqual({ running: 0, paused: 1 });
  });

  it('nothing active: 0 running, 0 paused', () => {
    expect(headerCounts([])).toEqual({ running: 0, paused: 0 });
  });
});
