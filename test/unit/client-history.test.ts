import { describe, expect, it } from 'vitest';
import { endedSinceLoad, foldAscii, matchesHistory, type HistoryFilter } from '../../client/lib/history.ts';
import { fakeExecution } from '../helpers/client-helpers.ts';

const any: HistoryFilter = { kind: null, statuses: [], text: '' };
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

describe('the history filter, as the server applies it', () => {
  it('folds ASCII letters only and trims the text', () => {
    expect(foldAscii('DOCS Ünï')).toBe('docs Ünï');
    const docs = fakeExecution('a', { title: 'https://Example.test/Docs', status: 'SUCCEEDED' });
    expect(matchesHistory(docs, { ...any, text: '  dOCs ' })).toBe(true);
    expect(matchesHistory(docs, { ...any, text: 'blog' })).toBe(false);
    expect(matchesHistory(fakeExecution('b', { title: 'Ünï' }), { ...any, text: 'üNÏ' })).toBe(false);
    expect(matchesHistory(docs, { ...any, kind: 'CHAT' })).toBe(false);
    expect(matchesHistory(docs, { ...any, statuses: ['FAILED'] })).toBe(false);
  });

  it('adds what ended here and is not in the loaded pages, down to the last loaded row while more pages follow', () => {
    const loaded = [fakeExecution('l2', { createdAt: at(20), status: 'SUCCEEDED' }), fakeExecution('l1', { createdAt: at(10), status: 'FAILED' })];
    const newer = fakeExecution('n', { createdAt: at(30), status: 'CANCELLED' });
    const between = fakeExecution('b', { createdAt: at(15), status: 'SUCCEEDED' });
    const older = fakeExecution('o', { createdAt: at(5), status: 'SUCCEEDED' });
    const running = fakeExecution('r', { createdAt: at(31), status: 'RUNNING' });
    const known = [...loaded, newer, between, older, running];
    expect(endedSinceLoad(known, loaded, true, any).map((e) => e.id)).toEqual(['n', 'b']);
    expect(endedSinceLoad(known, loaded, false, any).map((e) => e.id)).toEqual(['n', 'b', 'o']);
    expect(endedSinceLoad(known, loaded, false, { ...any, statuses: ['CANCELLED'] }).map((e) => e.id)).toEqual(['n']);
  });
});
