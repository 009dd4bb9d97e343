// Toasts stay while a person reads them: paused while the stack is hovered or focused, then they
// run on with the time they had left. Fake timers, so no test waits on the clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useToastsStore } from '../../client/stores/toasts.ts';

beforeEach(() => {
  vi.useFakeTimers();
  setActivePinia(createPinia());
});

afterEach(() => {
  vi.useRealTimers();
});

describe('toasts', () => {
  it('go after their time, but not while paused; then they have the time they had left', () => {
    const toasts = useToastsStore();
    toasts.push({ tone: 'error', title: 'Could not stop', message: 'x' }, 5_000);
    vi.advanceTimersByTime(3_000);
    toasts.pause();
    vi.advanceTimersByTime(60_000);
    expect(toasts.toasts).toHaveLength(1);
    toasts.resume();
    vi.advanceTimersByTime(1_900);
    expect(toasts.toasts).toHaveLength(1);
    vi.advanceTimersByTime(200);
    expect(toasts.toasts).toHaveLength(0);
  });

  it('one pushed while paused waits too', () => {
    const toasts = useToastsStore();
    toasts.pause();
    toasts.push({ tone: 'info', title: 'Crawl succeeded' }, 1_000);
    vi.advanceTimersByTime(10_000);
    expect(toasts.toasts).toHaveLength(1);
    toasts.resume();
    vi.advanceTimersByTime(1_000);
    expect(toasts.toasts).toHaveLength(0);
  });
});
