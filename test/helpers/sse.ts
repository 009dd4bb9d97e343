// A subscription over HTTP (SSE, as GraphiQL and graphql-sse clients send it), read frame by frame.
import { expect } from 'vitest';

/** One SSE subscription read as it arrives: its `next` payloads, and whether `complete` came. */
export function sse<T>(url: string, query: string, variables: Record<string, unknown>, field: string) {
  const items: T[] = [];
  let completed = false;
  const waiters: (() => void)[] = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  const controller = new AbortController();
  // While paused the body is not read: the client's buffers fill, then TCP stops the server's writes.
  let resumed: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  const done = (async () => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (resumed) await resumed;
      text += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        if (frame.startsWith('event: next\ndata: ')) items.push(JSON.parse(frame.slice(18)).data[field]);
        if (frame.startsWith('event: complete')) completed = true;
        notify();
      }
    }
  })();
  done.catch(() => {});
  return {
    items,
    done,
    get completed() {
      return completed;
    },
    until: (predicate: () => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => (predicate() ? resolve() : waiters.push(check));
        check();
      }),
    close: () => controller.abort(),
    pause: () => void (resumed ??= new Promise<void>((resolve) => (wake = resolve))),
    resume: () => {
      resumed = null;
      wake?.();
    },
  };
}

