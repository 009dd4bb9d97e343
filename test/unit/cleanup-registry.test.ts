// The cleanup registries every suite relies on to close what it opened: per test (deferCleanup) and
// per suite (suiteResources), in reverse order of set-up, every cleanup run even when one fails.
import { beforeAll, describe, expect, it } from 'vitest';
import { CleanupList, deferCleanup } from '../helpers/cleanup.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

describe('CleanupList', () => {
  it('runs its cleanups in reverse order, each once', async () => {
    const ran: number[] = [];
    const list = new CleanupList();
    for (const n of [1, 2, 3]) list.defer(() => void ran.push(n));
    await list.run();
    await list.run();
    expect(ran).toEqual([3, 2, 1]);
  });

  it('runs the others when one fails, then throws what failed', async () => {
    const ran: string[] = [];
    const list = new CleanupList();
    list.defer(() => void ran.push('first'));
    list.defer(() => Promise.reject(new Error('cannot close')));
    list.defer(() => void ran.push('last'));
    await expect(list.run()).rejects.toThrow('cannot close');
    expect(ran).toEqual(['last', 'first']);

    list.defer(() => Promise.reject(new Error('a')));
    list.defer(() => Promise.reject(new Error('b')));
    await expect(list.run()).rejects.toThrow(AggregateError);
  });
});

describe('deferCleanup', () => {
  let refusal: unknown;
  beforeAll(() => {
    try {
      deferCleanup(() => {});
    } catch (error) {
      refusal = error;
    }
  });

  const order: string[] = [];
  it('in a test: runs after it', () => {
    deferCleanup(() => void order.push('cleaned'));
    order.push('test');
  });
  it('(the test before was cleaned up)', () => {
    expect(order).toEqual(['test', 'cleaned']);
  });

  it('in a beforeAll: refused, pointing to suiteResources', () => {
    expect((refusal as Error).message).toMatch(/suiteResources/);
  });
});

describe('suiteResources', () => {
  const closed: string[] = [];
  describe('a suite that builds things in beforeAll', () => {
    const resources = suiteResources();
    beforeAll(() => {
      resources.defer(() => void closed.push('built first'));
      resources.defer(() => void closed.push('built second'));
    });
    it('keeps them for every test of the suite', () => expect(closed).toEqual([]));
    it('(a second test)', () => expect(closed).toEqual([]));
  });
  it('closes them after the suite, the last built first', () => {
    expect(closed).toEqual(['built second', 'built first']);
  });
});
