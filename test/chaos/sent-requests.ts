// When this process's crawls sent each request (undici's 'undici:client:sendHeaders', published as
// the request's head is written to its socket; an aborted request is never written). The site's
// arrival time can trail it by however long a loaded event loop takes to read the socket; the time
// sent is what "no request after the crawl ended" is about.
import diagnostics from 'node:diagnostics_channel';

export interface SentRequest {
  path: string;
  at: number;
}

interface SendHeadersMessage {
  request: { origin?: string | URL; path: string };
}

/** Records the requests sent to each of `origins` from now until the returned stop is called. */
export function watchSentRequests(origins: readonly string[]): { sent: SentRequest[][]; stop(): void } {
  const index = new Map(origins.map((origin, i) => [new URL(origin).origin, i]));
  const sent: SentRequest[][] = origins.map(() => []);
  const onSend = (message: unknown): void => {
    const { request } = message as SendHeadersMessage;
    const i = request.origin === undefined ? undefined : index.get(new URL(String(request.origin)).origin);
    if (i !== undefined) sent[i]!.push({ path: request.path, at: Date.now() });
  };
  diagnostics.subscribe('undici:client:sendHeaders', onSend);
  return { sent, stop: () => diagnostics.unsubscribe('undici:client:sendHeaders', onSend) };
}
