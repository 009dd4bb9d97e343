// Subscriptions over HTTP (Yoga's SSE) join the same fan-out groups as graphql-ws: the fan-out fields
// (jobProgress, executionChanged as the only root field) asked for with `Accept: text/event-stream`
// are parsed, validated and access-checked by Yoga as usual, then served by the fan-out, which
// resolves and serialises each event once per group whatever the transport of its members.
import type { ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../security/tokens.ts';
import { Fanout } from '../streams/fanout.ts';
import { SseSink } from '../streams/sse-sink.ts';

const accepts = (request: Request | undefined): boolean => request?.headers.get('accept')?.includes('text/event-stream') ?? false;

/** The Yoga plugin that hands SSE subscriptions of the fan-out fields to `fanout`. */
export function useSseFanout(fanout: Fanout): Plugin<{ principal?: Principal | null; request?: Request }, { res?: ServerResponse }> {
  // By request: plugins may wrap the stream the subscription returns, never the request.
  const sinks = new WeakMap<Request, SseSink>();
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const request = args.contextValue.request;
      if (!request || !accepts(request)) return;
      const field = Fanout.fieldOf(args.document, args.operationName);
      if (!field) return;
      const principal = args.contextValue.principal ?? null;
      setSubscribeFn(async (subscribeArgs) => {
        const sink = new SseSink();
        const result = await fanout.subscribe({ field, sink, subscriptionId: null, principal }, subscribeArgs);
        if (Symbol.asyncIterator in result) sinks.set(request, sink);
        return result;
      });
    },
    onResultProcess({ request, setResultProcessor, serverContext }) {
      const sink = sinks.get(request);
      if (!sink) return;
      sinks.delete(request);
      setResultProcessor((result, fetchAPI) => {
        // The stream yields nothing (the sink carries the events); it settles when the member ends.
        const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        sink.onGone = () => void iterator.return?.();
        iterator.next().then(
          () => sink.complete(),
          () => sink.close(),
        );
        return new fetchAPI.Response(sink.body(fetchAPI.ReadableStream, serverContext.res), {
          status: 200,
          headers: { 'Content-Type': 'text/event-stream', Connection: 'keep-alive', 'Cache-Control': 'no-cache', 'Content-Encoding': 'none' },
        });
      }, 'text/event-stream');
    },
  };
}
