// API tokens (SLUICE_API_TOKENS): validation at start-up, and recognising a presented token in
// constant time. Tokens are kept only as SHA-256 digests and never logged.
import { createHash, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['read', 'execute', 'cancel', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** API tokens (SLUICE_API_TOKENS); enforced by the auth layer. */
export interface ApiToken {
  name: string;
  token: string;
  scopes: Scope[];
}

/** Shortest token accepted: 16 characters; `openssl rand -hex 32` makes a good one. */
export const MIN_TOKEN_LENGTH = 16;

/** Who is calling: a token's name and scopes, or "local" (no tokens configured, loopback HOST). */
export interface Principal {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** What rate limits are counted against: the token name, or the caller's IP for local callers. */
  readonly rateKey: string;
}

const EXAMPLE = '[{"name":"ci","token":"<16+ random characters>","scopes":["read","execute","cancel"]}]';

/**
 * What is wrong with a token list (parsed JSON), or null when it is valid. Names the entry (by index
 * and name, never by token) so the operator can find it.
 */
export function apiTokenProblem(value: unknown): string | null {
  if (!Array.isArray(value)) return `must be a JSON list of {name, token, scopes}, e.g. ${EXAMPLE}`;
  const names = new Set<string>();
  const digests = new Set<string>();
  for (const [index, entry] of value.entries()) {
    const problem = entryProblem(entry);
    const label = `entry ${index + 1}${isRecord(entry) && typeof entry.name === 'string' ? ` ("${entry.name}")` : ''}`;
    if (problem) return `${label} ${problem}`;
    const { name, token } = entry as ApiToken;
    if (names.has(name)) return `${label}: the name "${name}" is used twice; names identify tokens in audit fields`;
    const digest = sha256(token).toString('hex');
    if (digests.has(digest)) return `${label}: its token is the same as an earlier entry's; give each caller its own token`;
    names.add(name);
    digests.add(digest);
  }
  return null;
}

function entryProblem(entry: unknown): string | null {
  if (!isRecord(entry)) return 'must be an object {name, token, scopes}';
  const { name, token, scopes } = entry;
  if (typeof name !== 'string' || name.trim() === '') return 'has no name: give "name", e.g. "ci"';
  if (name.length > 100 || [...name].some((c) => c.charCodeAt(0) < 0x20)) return 'has a name that is too long or holds control characters';
  if (typeof token !== 'string' || token === '') return 'has no token: give "token", at least 16 random characters';
  if (token.length < MIN_TOKEN_LENGTH) return `has a token shorter than ${MIN_TOKEN_LENGTH} characters; use a long random one (openssl rand -hex 32)`;
  if (/\s/.test(token)) return 'has a token with white space in it';
  if (!Array.isArray(scopes) || scopes.length === 0) return `has no scopes: give "scopes", a list of ${SCOPES.join(', ')}`;
  const unknown = scopes.find((s) => !SCOPES.includes(s as Scope));
  if (unknown !== undefined) return `has an unknown scope ${JSON.stringify(unknown)}; the scopes are ${SCOPES.join(', ')}`;
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` value, or null. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string' || header.length > 4096) return null;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/** True when `scopes` allow `needed` (admin allows everything). */
export function hasScope(scopes: ReadonlySet<Scope>, needed: Scope): boolean {
  return scopes.has('admin') || scopes.has(needed);
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

/** The configured tokens, held as digests; finds the caller of a presented token in constant time. */
export class TokenRegistry {
  private readonly entries: Entry[];

  constructor(tokens: readonly ApiToken[]) {
    this.entries = tokens.map((t) => ({
      digest: sha256(t.token),
      principal: { name: t.name, scopes: new Set(t.scopes), rateKey: `token:${t.name}` },
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * The principal of a presented token, or null. Compares fixed-length digests with timingSafeEqual
   * and always walks every entry, so the time taken says nothing about how much of a token matched
   * or which entry did.
   */
  match(presented: string): Principal | null {
    const digest = sha256(presented);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && found === null) found = entry.principal;
    }
    return found;
  }
}
