// A jobProgress subscriber that stamps every event with the time it arrived (performance.now()).
import { performance } from 'node:perf_hooks';
import type { Client } from 'graphql-ws';
import { JOB_PROGRESS, type EventPayload } from '../test/helpers/app.ts';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED']);

export interface Arrival {
  event: EventPayload;
  at: number;
}

export interface Watcher {
  executionId: string;
  arrivals: Arrival[];
  /** Set when the server completed the subscription. */
  completed: boolean;
  /** Resolves with the first arrival (already received or future) that matches. */
  until(predicate: (event: EventPayload) => boolean): Promise<Arrival>;
  /** Events received after the terminal one (the stream must end with it). */
  afterTerminal(): number;
}

export const isTerminalEvent = (e: EventPayload): boolean => e.type === 'STATUS' && TERMINAL.has(e.status);

/** Subscribes to jobProgress of one execution over the given graphql-ws client. */
export function watch(client: Client, executionId: string): Watcher {
  const arrivals: Arrival[] = [];
  const waiters: { predicate: (e: EventPayload) => boolean; resolve: (a: Arrival) => void; reject: (e: unknown) => void }[] = [];
  const fail = (error: unknown) => waiters.splice(0).forEach((w) => w.reject(error));
  const watcher: Watcher = {
    executionId,
    arrivals,
    completed: false,
    until(predicate) {
      const found = arrivals.find((a) => predicate(a.event));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => waiters.push({ predicate, resolve, reject }));
    },
    afterTerminal() {
      const end = arrivals.findIndex((a) => isTerminalEvent(a.event));
      return end < 0 ? 0 : arrivals.length - end - 1;
    },
  };
  client.subscribe<{ jobProgress: EventPayload }>(
    { query: JOB_PROGRESS, variables: { id: executionId } },
    {
      next: (result) => {
        const at = performance.now();
        if (result.errors?.length) return fail(new Error(result.errors[0]!.message));
        const arrival = { event: result.data!.jobProgress, at };
        arrivals.push(arrival);
        for (const w of [...waiters]) {
          if (!w.predicate(arrival.event)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(arrival);
        }
      },
      error: fail,
      complete: () => {
        watcher.completed = true;
        fail(new Error(`the subscription of ${executionId} completed before the awaited event`));
      },
    },
  );
  return watcher;
}
