// Authentication of HTTP requests and graphql-ws connections. Which operations a caller may run is
// decided per operation by ../security/access.ts; here we only find out who the caller is.
import type { IncomingMessage } from 'node:http';
import type { Context as WsContext } from 'graphql-ws';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.ts';
import { unauthenticated } from '../security/access.ts';
import { bearerToken, SCOPES, TokenRegistry, type Principal } from '../security/tokens.ts';
import { isLoopbackName } from './request-guard.ts';

/** graphql-ws close code for a missing or wrong token: 4401 is one the graphql-ws client never retries. */
export const WS_UNAUTHORIZED = 4401;

/** Finds the caller of a request: by token, or "local" when no tokens are configured. */
export interface Authenticator {
  /** No tokens configured: every caller (on this machine) is "local" with every scope. */
  readonly open: boolean;
  /** The caller for an Authorization value ("Bearer <token>"), or null when it is missing or wrong. */
  principal(authorization: unknown, remoteAddress: string | undefined): Principal | null;
}

const ALL_SCOPES = new Set(SCOPES);

/**
 * Builds the authenticator from the config; refuses (ConfigError) to serve a non-loopback HOST
 * without tokens, and warns when the API is open to local callers.
 */
export function createAuthenticator(config: Pick<Config, 'host' | 'apiTokens'>, log: Logger): Authenticator {
  if (config.apiTokens.length === 0) {
    if (!isLoopbackName(config.host)) {
      throw new ConfigError(
        `HOST is ${config.host}, which other machines can reach, and no API tokens are configured, so anyone could ` +
          'start crawls from this server and cancel its work. Set SLUICE_API_TOKENS, e.g. ' +
          `SLUICE_API_TOKENS='[{"name":"admin","token":"'$(openssl rand -hex 32)'","scopes":["admin"]}]', or bind HOST=127.0.0.1.`,
      );
    }
    log.warn('no API tokens configured (SLUICE_API_TOKENS): the API is open to every caller on this machine, with every scope');
    return {
      open: true,
      principal: (_authorization, remoteAddress) => ({ name: 'local', scopes: ALL_SCOPES, rateKey: `local:${remoteAddress ?? '?'}` }),
    };
  }
  const registry = new TokenRegistry(config.apiTokens);
  log.info({ tokens: config.apiTokens.map((t) => ({ name: t.name, scopes: t.scopes })) }, 'API tokens configured');
  return {
    open: false,
    principal: (authorization) => {
      const token = bearerToken(authorization);
      return token === null ? null : registry.match(token);
    },
  };
}

/** Yoga plugin: an HTTP request without a valid token is answered 401 before its document is parsed. */
export function useHttpAuthentication(auth: Authenticator): Plugin {
  return {
    onRequestParse({ request }) {
      if (auth.open) return;
      const header = request.headers.get('authorization');
      if (auth.principal(header, undefined)) return;
      throw unauthenticated(
        header === null
          ? 'this API needs a token: send "Authorization: Bearer <token>"'
          : 'the token is not valid: send "Authorization: Bearer <token>" with a token from SLUICE_API_TOKENS',
      );
    },
  };
}

/** What Yoga's context factory is given: an HTTP request, or (graphql-ws) the connection's principal. */
export interface InitialContext {
  request?: Request;
  req?: IncomingMessage;
  principal?: Principal | null;
}

/** The caller of an operation, for the GraphQL context (checked again by the access plugin). */
export function principalOf(auth: Authenticator, initial: InitialContext): Principal | null {
  if ('principal' in initial) return initial.principal ?? null;
  return auth.principal(initial.request?.headers.get('authorization'), initial.req?.socket.remoteAddress);
}

type ConnectionContext = WsContext<Record<string, unknown> | undefined, { request: IncomingMessage }>;

const principals = new WeakMap<object, Principal>();

/**
 * graphql-ws onConnect: the token comes in connectionParams.authorization ("Bearer <token>"), or
 * from non-browser clients in the upgrade request's Authorization header. A connection without a
 * valid one is closed with 4401.
 */
export function authenticateConnection(auth: Authenticator, ctx: ConnectionContext): boolean {
  const params = ctx.connectionParams ?? {};
  const authorization = params.authorization ?? params.Authorization ?? ctx.extra.request.headers.authorization;
  const principal = auth.principal(authorization, ctx.extra.request.socket.remoteAddress);
  if (!principal) {
    const socket = (ctx.extra as { socket?: { close(code: number, reason: string): void } }).socket;
    socket?.close(WS_UNAUTHORIZED, authorization === undefined ? 'Unauthorized: no token in connectionParams.authorization' : 'Unauthorized: the token is not valid');
    return false;
  }
  principals.set(ctx, principal);
  return true;
}

/** The principal a graphql-ws connection authenticated as (null before onConnect accepted it). */
export function connectionPrincipal(ctx: object): Principal | null {
  return principals.get(ctx) ?? null;
}
