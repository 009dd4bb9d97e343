import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { authenticateConnection, connectionPrincipal, type Authenticator } from './auth.ts';
import { refusal } from './request-guard.ts';

type Enveloped = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

/**
 * graphql-ws on the HTTP server's /graphql path, running every operation through Yoga's envelop
 * (so auth, limits, rate limits and error masking are the same as over HTTP). Returns its closer.
 */
export function attachGraphqlWs(
  server: Server,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Yoga's own default for "no user context"
  yoga: YogaServerInstance<{ req: IncomingMessage; res: ServerResponse }, {}>,
  auth: Authenticator,
  maxPayload: number,
): () => Promise<void> {
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
  const wsServer = useServer(
    {
      execute: (args) => (args.rootValue as Enveloped).execute(args) as never,
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args) as never,
      onConnect: (ctx) => authenticateConnection(auth, ctx),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          principal: connectionPrincipal(ctx),
        });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          // a syntax error (or the token limit) answers this operation; it must not close the socket
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies Enveloped,
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    wss,
    10_000,
  );
  return async () => {
    await wsServer.dispose();
    wss.close();
  };
}
