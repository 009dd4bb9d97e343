import type Database from 'better-sqlite3';

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A prepared statement for this SQL on this database, prepared once and reused (better-sqlite3 does not cache). */
export function statement(db: Database.Database, sql: string): Database.Statement {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  let prepared = cache.get(sql);
  if (!prepared) cache.set(sql, (prepared = db.prepare(sql)));
  return prepared;
}

const runners = new WeakMap<Database.Database, (fn: () => unknown) => unknown>();

/**
 * Runs `fn` in a transaction (a savepoint when one is open), rolled back if it throws. One wrapper
 * per database: db.transaction() builds four wrapped functions each time it is called.
 */
export function transaction<T>(db: Database.Database, fn: () => T): T {
  let run = runners.get(db);
  if (!run) runners.set(db, (run = db.transaction((body: () => unknown) => body())));
  return run(fn) as T;
}

/** Runs a transaction of the main connection when its turn comes (PageWriter.exclusive, or at once without a writer thread). */
export type MainTurn = <T>(fn: () => T) => Promise<T>;
