import { timingSafeEqual as mockedTimingSafeEqual } from 'node:crypto';
import { parse } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig, resolveConfig } from '../../server/config.ts';
import { createAuthenticator } from '../../server/http/auth.ts';
import { isAllowedOrigin, isLoopbackName } from '../../server/http/request-guard.ts';
import { createGuardedLookup, PrivateAddressError, refusalReason, type AddressRules } from '../../server/jobs/crawl/address.ts';
import { accessError, requiredScope, rootFields } from '../../server/security/access.ts';
import { RateLimiter } from '../../server/security/rate-limit.ts';
import { apiTokenProblem, bearerToken, hasScope, TokenRegistry, type Principal, type Scope, type ApiToken } from '../../server/security/tokens.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  const timingSafeEqual = vi.fn(original.timingSafeEqual);
  return { ...original, default: { ...original, timingSafeEqual }, timingSafeEqual };
});

const token = (name: string, scopes: string[], value = `${name}-0123456789abcdef`): ApiToken => ({ name, token: value, scopes: scopes as Scope[] });
const silent = pino({ level: 'silent' });

describe('SLUICE_API_TOKENS validation', () => {
  it.each([
    ['not a list', { name: 'x' }, /JSON list/],
    ['an entry that is not an object', ['token'], /entry 1 must be an object/],
    ['a missing name', [{ token: 'x'.repeat(20), scopes: ['read'] }], /entry 1 has no name/],
    ['an empty name', [token('', ['read'])], /has no name/],
    ['a missing token', [{ name: 'ci', scopes: ['read'] }], /entry 1 \("ci"\) has no token/],
    ['a short token', [token('ci', ['read'], 'short-token')], /shorter than 16 characters/],
    ['a token with spaces', [token('ci', ['read'], 'has spaces in the middle')], /white space/],
    ['no scopes', [{ name: 'ci', token: 'x'.repeat(20) }], /has no scopes/],
    ['an empty scope list', [token('ci', [])], /has no scopes/],
    ['an unknown scope', [token('ci', ['read', 'write'])], /unknown scope "write"; the scopes are read, execute, cancel, admin/],
    ['a duplicate token', [token('a', ['read'], 'same-token-0123456789'), token('b', ['read'], 'same-token-0123456789')], /entry 2 \("b"\).*same as an earlier/],
    ['a duplicate name', [token('ci', ['read']), token('ci', ['admin'], 'other-token-0123456789')], /"ci" is used twice/],
    ['a control character in a name', [token('c\ni', ['read'])], /control characters/],
  ])('refuses %s', (_name, value, message) => {
    expect(apiTokenProblem(value)).toMatch(message);
    expect(() => resolveConfig({ apiTokens: value as never })).toThrow(ConfigError);
  });

  it('accepts a valid list and an empty one', () => {
    expect(apiTokenProblem([token('ci', ['read', 'execute']), token('ops', ['admin'])])).toBeNull();
    expect(apiTokenProblem([])).toBeNull();
  });

  it('loadConfig reads the environment and names the variable in its errors, never the token', () => {
    const good = JSON.stringify([token('ci', ['read'])]);
    expect(loadConfig({ SLUICE_API_TOKENS: good }).apiTokens).toEqual([token('ci', ['read'])]);
    expect(() => loadConfig({ SLUICE_API_TOKENS: '[{name:' })).toThrow(/SLUICE_API_TOKENS must be JSON/);
    const secret = 'tiny-secret';
    const error = (() => {
      try {
        loadConfig({ SLUICE_API_TOKENS: JSON.stringify([token('ci', ['read'], secret)]) });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/^SLUICE_API_TOKENS: entry 1 \("ci"\) has a token shorter/);
    expect(error?.message).not.toContain(secret);
    expect(() => loadConfig({ SLUICE_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/SLUICE_RATE_LIMIT_PER_MINUTE/);
    expect(() => loadConfig({ SLUICE_MAX_REQUEST_BYTES: '10' })).toThrow(/SLUICE_MAX_REQUEST_BYTES/);
  });
});

describe('tokens and scopes', () => {
  it('parses Bearer headers strictly', () => {
    expect(bearerToken('Bearer abc123')).toBe('abc123');
    expect(bearerToken('bearer   abc123  ')).toBe('abc123');
    for (const bad of [undefined, null, 42, '', 'Bearer', 'Bearer ', 'Basic abc', 'abc123', 'Bearer a b', `Bearer ${'x'.repeat(5000)}`]) {
      expect(bearerToken(bad), String(bad)).toBeNull();
    }
  });

  it('admin allows everything; other scopes only themselves', () => {
    const scopes = (...s: Scope[]) => new Set<Scope>(s);
    expect(hasScope(scopes('admin'), 'cancel')).toBe(true);
    expect(hasScope(scopes('read'), 'read')).toBe(true);
    expect(hasScope(scopes('read', 'execute'), 'cancel')).toBe(false);
    expect(hasScope(scopes(), 'read')).toBe(false);
  });

  it('maps root fields to scopes, failing closed for unknown mutations', () => {
    expect(requiredScope('query', 'executions')).toBe('read');
    expect(requiredScope('subscription', 'jobProgress')).toBe('read');
    expect(requiredScope('mutation', 'startCrawl')).toBe('execute');
    expect(requiredScope('mutation', 'sendChatMessage')).toBe('execute');
    expect(requiredScope('mutation', 'cancelExecution')).toBe('cancel');
    expect(requiredScope('mutation', 'cancelExecutions')).toBe('cancel');
    expect(requiredScope('mutation', 'deleteKnowledgeSource')).toBe('admin');
    expect(requiredScope('mutation', 'someFutureMutation')).toBe('admin');
    expect(requiredScope('mutation', '__typename')).toBeNull();
  });

  it('finds root fields behind aliases, fragments and inline fragments, and picks the named operation', () => {
    const doc = parse(`
      query Q { a: executions { id } }
      mutation M { x: startCrawl(input: { url: "u" }) { id } ...F ... on Mutation { cancelExecution(id: "1") { accepted } } }
      fragment F on Mutation { cancelExecutions { cancelled } ...G }
      fragment G on Mutation { deleteKnowledgeSource(id: "1") { deleted } ...F }
    `);
    expect(rootFields(doc, 'Q')).toEqual({ operation: 'query', fields: ['executions'] });
    expect(rootFields(doc, 'M')).toEqual({
      operation: 'mutation',
      fields: ['startCrawl', 'cancelExecutions', 'deleteKnowledgeSource', 'cancelExecution'],
    });
    expect(rootFields(doc, null)).toBeNull(); // two operations and no name
  });

  it('accessError: UNAUTHENTICATED without a principal, FORBIDDEN naming field and scope', () => {
    const reader: Principal = { name: 'reader', scopes: new Set(['read']), rateKey: 'token:reader' };
    expect(accessError(null, 'query', ['executions'])?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(accessError(reader, 'query', ['executions', '__typename'])).toBeNull();
    const denied = accessError(reader, 'mutation', ['__typename', 'startCrawl']);
    expect(denied?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'startCrawl', requiredScope: 'execute' });
    expect(denied?.message).toBe('startCrawl needs the "execute" scope; the token "reader" has: read');
  });
});

describe('TokenRegistry: constant-time matching', () => {
  const registry = new TokenRegistry([token('a', ['read']), token('b', ['execute']), token('c', ['admin'])]);
  const timingSafeEqual = vi.mocked(mockedTimingSafeEqual);

  it('finds the principal of a known token, null for anything else', () => {
    expect(registry.match('b-0123456789abcdef')).toMatchObject({ name: 'b', rateKey: 'token:b' });
    expect(registry.match('b-0123456789abcdeF')).toBeNull();
    expect(registry.match('b-0123456789abcde')).toBeNull();
    expect(registry.match('')).toBeNull();
  });

  it.each([
    ['the first token', 'a-0123456789abcdef'],
    ['the last token', 'c-0123456789abcdef'],
    ['an unknown token', 'nope'],
    ['a very long token', 'x'.repeat(10_000)],
  ])('compares %s against every entry, with timingSafeEqual on equal-length digests', (_name, presented) => {
    timingSafeEqual.mockClear();
    registry.match(presented);
    expect(timingSafeEqual).toHaveBeenCalledTimes(3);
    for (const [a, b] of timingSafeEqual.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
  });
});

describe('RateLimiter (token bucket)', () => {
  it('allows a burst, then refills at the per-minute rate, with a retry hint', () => {
    let now = 0;
    const limiter = new RateLimiter(30, () => now);
    for (let i = 0; i < 30; i++) expect(limiter.take('k').ok).toBe(true);
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 2 });
    expect(limiter.take('other').ok).toBe(true);
    now += 2000; // one call refills every 2 s
    expect(limiter.take('k').ok).toBe(true);
    expect(limiter.take('k').ok).toBe(false);
    expect(limiter.take('k', 0).ok).toBe(true);
  });

  it('takes all or nothing, and 0 per minute means no limit', () => {
    const limiter = new RateLimiter(5, () => 0);
    expect(limiter.take('k', 4).ok).toBe(true);
    expect(limiter.take('k', 2).ok).toBe(false);
    expect(limiter.take('k', 1).ok).toBe(true);
    const off = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(off.take('k').ok).toBe(true);
  });
});

describe('start-up exposure rules', () => {
  it('a loopback HOST without tokens is open to local callers, with a warning', () => {
    const warn = vi.fn();
    const log = { ...silent, warn, info: vi.fn() } as unknown as typeof silent;
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) {
      const auth = createAuthenticator({ host, apiTokens: [] }, log);
      expect(auth.open).toBe(true);
      expect(auth.principal(undefined, '127.0.0.1')).toMatchObject({ name: 'local', rateKey: 'local:127.0.0.1' });
    }
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/open to every caller on this machine/));
  });

  it.each(['0.0.0.0', '::', '10.0.0.5', 'sluice.example.com'])('HOST=%s without tokens refuses to start', (host) => {
    expect(() => createAuthenticator({ host, apiTokens: [] }, silent)).toThrow(/no API tokens are configured.*SLUICE_API_TOKENS/);
  });

  it('with tokens, only a valid Bearer token is a principal', () => {
    const auth = createAuthenticator({ host: '0.0.0.0', apiTokens: [token('ci', ['read'])] }, silent);
    expect(auth.open).toBe(false);
    expect(auth.principal('Bearer ci-0123456789abcdef', '10.0.0.1')).toMatchObject({ name: 'ci' });
    expect(auth.principal('Bearer ci-0123456789abcdeg', '10.0.0.1')).toBeNull();
    expect(auth.principal(undefined, '127.0.0.1')).toBeNull();
  });
});

describe('request guard', () => {
  it('knows loopback names', () => {
    for (const name of ['localhost', 'LOCALHOST', 'localhost.', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopbackName(name), name).toBe(true);
    }
    for (const name of ['evil.example', 'localhost.evil.example', '0.0.0.0', '10.0.0.1', '', '[::]']) expect(isLoopbackName(name), name).toBe(false);
  });

  it('allows same-origin and local pages, and callers without an Origin', () => {
    expect(isAllowedOrigin(undefined, 'sluice.example.com')).toBe(true);
    expect(isAllowedOrigin('https://sluice.example.com', 'sluice.example.com')).toBe(true);
    expect(isAllowedOrigin('http://localhost:5173', 'sluice.example.com')).toBe(true);
    expect(isAllowedOrigin('https://evil.example', 'sluice.example.com')).toBe(false);
    expect(isAllowedOrigin('null', '127.0.0.1:4000')).toBe(false);
    expect(isAllowedOrigin('file://', '127.0.0.1:4000')).toBe(false);
  });
});

describe('guarded lookup with an injected resolver', () => {
  type Found = { error: Error | null; addresses: { address: string; family: number }[] };
  const lookup = (rules: AddressRules, hostname: string, all = true) =>
    new Promise<Found>((done) =>
      createGuardedLookup(rules)(hostname, { all }, (error, address, family) =>
        done({ error, addresses: Array.isArray(address) ? address : address ? [{ address, family: family ?? 4 }] : [] }),
      ),
    );
  const resolveTo = (...ips: string[]): AddressRules['resolve'] => async () => ips.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('connects only to the public addresses of a name', async () => {
    const found = await lookup({ resolve: resolveTo('10.0.0.1', '93.184.216.34', '::1') }, 'mixed.example');
    expect(found).toEqual({ error: null, addresses: [{ address: '93.184.216.34', family: 4 }] });
    const one = await lookup({ resolve: resolveTo('169.254.169.254', '93.184.216.34') }, 'mixed.example', false);
    expect(one.addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it.each([
    ['loopback', ['127.0.0.1']],
    ['cloud metadata', ['169.254.169.254']],
    ['IPv4-mapped loopback', ['::ffff:7f00:1']],
    ['unique-local', ['fd00::1']],
    ['only private ones', ['10.1.1.1', '192.168.0.1', '100.64.0.1']],
  ])('refuses a name resolving to %s', async (_name, ips) => {
    const found = await lookup({ resolve: resolveTo(...ips) }, 'evil.example');
    expect(found.error).toBeInstanceOf(PrivateAddressError);
    expect(found.error?.message).toMatch(/refused to crawl evil\.example \(.*\).*SLUICE_ALLOW_PRIVATE_NETWORKS=true/);
  });

  it('refuses localhost names without asking the resolver', async () => {
    const resolve = vi.fn(resolveTo('93.184.216.34'));
    for (const name of ['localhost', 'localhost.', 'x.localhost', 'X.LOCALHOST.']) {
      expect((await lookup({ resolve }, name)).error).toBeInstanceOf(PrivateAddressError);
    }
    expect(resolve).not.toHaveBeenCalled();
    expect(await refusalReason('http://x.localhost./', false)).toMatch(/loopback/);
  });

  it('DNS rebinding: each connection is judged by what the name resolves to then', async () => {
    const answers = [['93.184.216.34'], ['127.0.0.1']];
    const rules: AddressRules = { resolve: async () => answers.shift()!.map((address) => ({ address, family: 4 })) };
    expect((await lookup(rules, 'rebind.example')).error).toBeNull();
    expect((await lookup(rules, 'rebind.example')).error).toBeInstanceOf(PrivateAddressError);
  });

  it('passes resolver errors through (an unknown name is a fetch failure, not a refusal)', async () => {
    const rules: AddressRules = { resolve: () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })) };
    expect((await lookup(rules, 'nowhere.example')).error).toMatchObject({ code: 'ENOTFOUND' });
    expect(await refusalReason('http://nowhere.example/', false, rules)).toBeNull();
  });
});
