import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticateConnection, connectionPrincipal, type Authenticator } from './auth.ts';
import { refusal } from './request-guard.ts';
import { serveGraphqlWs, type WsExtra } from './ws-transport.ts';
import { Fanout, type FanoutRequest } from '../streams/fanout.ts';
import { SocketSink } from '../streams/socket-sink.ts';

type Enveloped = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };
/** rootValue of an operation: Yoga's enveloped execute/subscribe, or the fan-out's request. */
type Root = Enveloped | { fanout: FanoutRequest };

/**
 * graphql-ws on the HTTP server's /graphql path, running every operation through Yoga's envelop
 * (so auth, limits, rate limits and error masking are the same as over HTTP). The subscriptions the
 * fan-out serves (jobProgress, executionChanged as the only root field) are parsed and validated the
 * same way, then checked per subscriber (access, arguments) and grouped by the fan-out, which writes
 * their `next` frames itself. Returns its closer.
 */
export function attachGraphqlWs(
  server: Server,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Yoga's own default for "no user context"
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, {}>,
  auth: Authenticator,
  maxPayload: number,
  fanout: Fanout,
): (timeoutMs: number) => Promise<void> {
  // One sink per connection, shared by its fan-out subscriptions.
  const sinks = new WeakMap<WebSocket, SocketSink>();
  const sinkOf = (extra: WsExtra): SocketSink => {
    let sink = sinks.get(extra.socket);
    if (!sink) sinks.set(extra.socket, (sink = new SocketSink(extra.socket, extra.tcp)));
    return sink;
  };
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload,
    verifyClient: ({ req }, done) => {
      const refused = refusal(req, { open: auth.open });
      if (refused) done(false, refused.status, refused.message);
      else done(true);
    },
  });
  const wsServer = serveGraphqlWs(
    {
      execute: (args) => (args.rootValue as Enveloped).execute(args) as never,
      subscribe: (args) => {
        const root = args.rootValue as Root;
        return ('fanout' in root ? fanout.subscribe(root.fanout, args) : root.subscribe(args)) as never;
      },
      onConnect: (ctx) => authenticateConnection(auth, ctx),
      onSubscribe: async (ctx, id, params) => {
        const principal = connectionPrincipal(ctx);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          principal,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          // a syntax error (or the token limit) answers this operation; it must not close the socket
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length) return errors;
        const field = Fanout.fieldOf(document, params.operationName);
        if (field) {
          // No per-subscriber GraphQL context: the fan-out resolves events once per group.
          const request: FanoutRequest = { field, sink: sinkOf(ctx.extra), subscriptionId: id, principal };
          return { schema, operationName: params.operationName, document, variableValues: params.variables, rootValue: { fanout: request } satisfies Root };
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies Enveloped,
        };
        return args;
      },
    },
    wss,
    10_000,
  );
  // dispose() closes every socket with 1001 Going Away and waits for the clients to answer; one that
  // does not within the timeout is cut off.
  return async (timeoutMs) => {
    fanout.close();
    const disposed = wsServer.dispose();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([disposed, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const socket of wss.clients) socket.terminate();
    await disposed;
  };
}
