import pg from 'pg';

/**
 * Type parsers of this store's pools: int8 (epoch-millisecond times, counts, identity ids) as a JS
 * number instead of pg's default string. Times and ids stay far below 2^53. Scoped to the pool, so
 * other users of `pg` in the process are not affected.
 */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** A JSON parameter for a jsonb column (pg would send a JS array as a PostgreSQL array). */
export const json = (value: unknown): string => JSON.stringify(value ?? null);

/** PostgreSQL text cannot hold NUL; crawled text may. SQLite keeps it, so only this store drops it. */
export const text = <T extends string | null>(value: T): T => (value === null ? value : (value.replaceAll('\u0000', '') as T));


const CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/** Whether an error means the connection (or the server) went away, rather than that the SQL was refused. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed/i.test(error.message);
}
