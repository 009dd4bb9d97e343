// Diagnostics for a violation (CHAOS_DIAG=1): what each in-process node's heartbeat did and when.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Engine } from '../../server/engine/engine.ts';

export interface Beat {
  start: number;
  end: number | null;
  inFlight: number;
  steps: string[];
  error: string | null;
}

export interface EngineTrace {
  node: string;
  /** Calls of the engine's stop machinery: [Date.now(), what, execution id]. */
  calls: [number, string, string][];
  beats: Beat[];
  orphans: { at: number; ids: string[]; outcome: string[] }[];
}

export const DIAG = process.env.CHAOS_DIAG === '1';
const lag = monitorEventLoopDelay({ resolution: 10 });
if (DIAG) lag.enable();

/** Instruments `engine` (its private methods, replaced on the instance) and returns its trace. */
export function traceEngine(engine: Engine, node: string): EngineTrace {
  const trace: EngineTrace = { node, beats: [], orphans: [], calls: [] };
  if (!DIAG) return trace;
  const e = engine as any;
  const idOf = (x: any): string => (typeof x === 'string' ? x : (x?.execution?.id ?? x?.id ?? '?'));
  for (const name of ['launch', 'abortLocal', 'remember', 'applyEarly', 'deliverPause', 'deliverCancel'] as const) {
    if (typeof e[name] !== 'function') continue;
    const fn = e[name].bind(e);
    e[name] = (...args: any[]) => {
      const extra = name === 'abortLocal' ? `:${args[1]}:cause=${args[0]?.cause}` : name === 'launch' ? `:a${args[0]?.attempt}` : name === 'remember' ? `:${JSON.stringify(args[1])}` : '';
      trace.calls.push([Date.now(), `${name}${extra}`, idOf(args[0])]);
      if (trace.calls.length > 2000) trace.calls.shift();
      return fn(...args);
    };
  }
  let inFlight = 0;
  let current: Beat | null = null;
  const store = e.store;
  const step = (name: string, fn: (...a: any[]) => Promise<any>) => async (...args: any[]) => {
    const t0 = Date.now();
    const beat = current;
    try {
      return await fn(...args);
    } finally {
      beat?.steps.push(`${name}@${t0 - beat.start}+${Date.now() - t0}`);
    }
  };
  // Each renewal and each sweep is a beat of its own (both when the engine runs them apart).
  for (const name of ['heartbeat', 'renew', 'sweep'] as const) {
    if (typeof e[name] !== 'function' || (name === 'heartbeat' && typeof e.renew === 'function')) continue;
    const run = e[name].bind(e);
    e[name] = async () => {
      const beat: Beat = { start: Date.now(), end: null, inFlight: ++inFlight, steps: [name === 'renew' ? 'R' : name === 'sweep' ? 'S' : 'H'], error: null };
      trace.beats.push(beat);
      if (trace.beats.length > 400) trace.beats.shift();
      current = beat;
      try {
        await run();
      } finally {
        inFlight--;
        beat.end = Date.now();
      }
    };
  }
  // What each takeover a sweep tried came to (moved to a status, refused: null, or threw): a row
  // listed as an orphan beat after beat and never taken shows here why.
  for (const name of ['release', 'move'] as const) {
    const fn = e[name].bind(e);
    e[name] = async (...args: any[]) => {
      const options = args[2];
      const sweeping = options?.ifLeaseExpired || options?.ifCancelRequestedMsAgo !== undefined;
      if (!sweeping || (name === 'move' && args[1] !== 'finishCancel')) return fn(...args);
      const id = idOf(args[0]);
      const t0 = Date.now();
      try {
        const change = await fn(...args);
        trace.calls.push([t0, `sweep-${name}:${change ? change.execution.status : 'null'}+${Date.now() - t0}ms`, id]);
        return change;
      } catch (error) {
        trace.calls.push([t0, `sweep-${name}:threw(${error instanceof Error ? error.message.slice(0, 60) : String(error)})+${Date.now() - t0}ms`, id]);
        throw error;
      }
    };
  }
  const recover = e.recoverOrphans.bind(e);
  e.recoverOrphans = step('orphans', recover);
  const overdue = e.finishOverdueCancels.bind(e);
  e.finishOverdueCancels = step('overdue', overdue);
  const ring = e.ringUnsure.bind(e);
  e.ringUnsure = step('ring', ring);
  const listOrphans = store.listOrphans.bind(store);
  e.store = new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'listOrphans') {
        return async (all: boolean) => {
          const at = Date.now();
          const rows = await listOrphans(all);
          // HELD: this node has code for the row; "renewable" is why its sweep skips it (see recoverOrphans).
          const held = (id: string): string => {
            const r = e.running.get(id);
            return r ? `HELD(a${r.execution.attempt},${r.cause ?? 'running'}${e.renewable(r) ? ',renewable' : ''})` : '';
          };
          const entry = { at, ids: rows.map((r: any) => `${r.id.slice(0, 8)}:${r.status}:${r.node}:a${r.attempt}:lease${r.leaseUntil ? r.leaseUntil - at : 'null'}:${held(r.id)}`), outcome: [] };
          trace.orphans.push(entry);
          if (trace.orphans.length > 400) trace.orphans.shift();
          return rows;
        };
      }
      if (key === 'renewLeases') {
        return async (...args: any[]) => {
          const t0 = Date.now();
          const beat = current;
          try {
            return await target.renewLeases(...(args as [any, any, any]));
          } finally {
            beat?.steps.push(`renew@${t0 - beat.start}+${Date.now() - t0}`);
          }
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
  return trace;
}

/** What a trace says about the last `ms` before `now`, and `id` in particular. */
export function describeTrace(trace: EngineTrace, engine: Engine | null, id: string, now: number, ms = 1500): string {
  const e = engine as any;
  const r = e?.running.get(id);
  const held = r
    ? `held: cause=${r.cause} finalised=${r.finalised} fencedAgo=${r.fencedAt === null ? '-' : Math.round(performance.now() - r.fencedAt)} confirmedAgo=${Math.round(performance.now() - r.confirmedAt)} attempt=${r.execution.attempt}`
    : 'not held';
  const beats = trace.beats.filter((b) => b.start > now - ms).map((b) => `[${b.start - now}${b.end ? `..${b.end - now}` : '..'} f${b.inFlight} ${b.steps.join(' ')}]`);
  const orphans = trace.orphans.filter((o) => o.at > now - ms && o.ids.some((x) => x.startsWith(id.slice(0, 8)))).map((o) => `${o.at - now}:${o.ids.filter((x) => x.startsWith(id.slice(0, 8))).join(',')}`);
  const calls = trace.calls.filter(([, , x]) => x === id).map(([at, what]) => `${what}@${at - now}`).join(' ');
  return `${trace.node} (${held}) calls ${calls} beats ${beats.join(' ')} orphans-listing-it ${orphans.join(' ') || 'none'}`;
}

/**
 * Stalls of this process's event loop: a 20 ms timer that fires late by more than STALL_MS records
 * when and how late. Every in-process node of every schedule running at once shares this one loop,
 * so a stall stops all of them together (no renewal, no sweep, no cancel anywhere), as no fault of
 * one node would. Always on (one timer); violations say what stalled around them.
 */
const STALL_MS = 100;
/** Each stall: when it ended, how late the timer was, and the CPU time this process used meanwhile (all its threads). */
const stalls: { at: number; ms: number; cpuMs: number }[] = [];
const totals = { count: 0, lateMs: 0, cpuMs: 0, longestMs: 0 };
let tickAt = Date.now();
let cpuAt = process.cpuUsage();
setInterval(() => {
  const now = Date.now();
  const cpu = process.cpuUsage();
  const late = now - tickAt - 20;
  const cpuMs = Math.round((cpu.user - cpuAt.user + cpu.system - cpuAt.system) / 1000);
  tickAt = now;
  cpuAt = cpu;
  if (late < STALL_MS) return;
  totals.count++;
  totals.lateMs += late;
  totals.cpuMs += cpuMs;
  totals.longestMs = Math.max(totals.longestMs, late);
  stalls.push({ at: now, ms: late, cpuMs });
  if (stalls.length > 2000) stalls.shift();
}, 20).unref();

/**
 * The stalls of this process in the `ms` before `now` (and the 200 ms after), each as
 * lateness/CPU@end: a stall with little CPU is this process waiting for a core (the machine's load),
 * one with as much CPU as its length is this process's own work (code or garbage collection).
 */
export function stallsNear(now: number, ms = 1500): string {
  const near = stalls.filter((s) => s.at > now - ms && s.at < now + 200);
  if (near.length === 0) return `event loop: no stall over ${STALL_MS} ms in the ${ms} ms before`;
  const sum = (f: (s: (typeof near)[number]) => number) => near.reduce((t, s) => t + f(s), 0);
  return `event loop stalled ${near.length} time(s) over ${STALL_MS} ms in the ${ms} ms before, ${sum((s) => s.ms)} ms late in all, ` +
    `with ${sum((s) => s.cpuMs)} ms of this process's CPU (ms late/cpu@end: ${near.map((s) => `${s.ms}/${s.cpuMs}@${s.at - now}`).join(' ')})`;
}

/** Every stall since the process started (for a run's summary): how many, their lateness and CPU in all, the longest. */
export function stallSummary(): string {
  const { count, lateMs, cpuMs, longestMs } = totals;
  return `${count} event-loop stalls over ${STALL_MS} ms, ${(lateMs / 1000).toFixed(1)} s late in all with ${(cpuMs / 1000).toFixed(1)} s of this process's CPU meanwhile, longest ${longestMs} ms`;
}

/** Event-loop delay of this process (ms): p50, p99, max, since the last reset. */
export function loopLag(): string {
  const s = `loop lag p50 ${Math.round(lag.percentile(50) / 1e6)} p99 ${Math.round(lag.percentile(99) / 1e6)} max ${Math.round(lag.max / 1e6)} ms`;
  lag.reset();
  return s;
}

/** Samples, every 200 ms, the backends of the schedule's database: who waits on a lock, and how long transactions are open. */
export function sampleBackends(query: (sql: string) => Promise<{ rows: Record<string, unknown>[] }>): { stop(): void; describe(now: number, ms?: number): string } {
  const samples: { at: number; text: string }[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const at = Date.now();
      try {
        const { rows } = await query(`SELECT application_name AS app, state, wait_event_type AS wt, wait_event AS we,
            round(extract(epoch from clock_timestamp() - xact_start) * 1000) AS xact_ms, cardinality(pg_blocking_pids(pid)) AS blocked_by,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 40) AS q
          FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`);
        const text = rows
          .filter((r) => Number(r.xact_ms) > 50 || r.wt === 'Lock')
          .map((r) => `${String(r.app).replace('sluice ', '')}:${r.state}${r.wt ? `/${r.we}` : ''}:${r.xact_ms}ms${Number(r.blocked_by) ? ':BLOCKED' : ''}:${r.q}`)
          .join(' ; ');
        samples.push({ at, text: `${rows.length} in tx${text ? `: ${text}` : ''}` });
        if (samples.length > 300) samples.shift();
      } catch {
        // the reader's database may be gone at the end
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  if (DIAG) void loop();
  return {
    stop: () => void (stopped = true),
    describe: (now, ms = 1500) => samples.filter((s) => s.at > now - ms).map((s) => `[${s.at - now}: ${s.text}]`).join(' '),
  };
}

/** Pool counts of a node's PostgreSQL store (total, idle, waiting), if it has one. */
export function poolOf(store: unknown): string {
  const pool = (store as { pool?: { totalCount: number; idleCount: number; waitingCount: number } }).pool;
  return pool ? `pool ${pool.totalCount}/${pool.idleCount} idle/${pool.waitingCount} waiting` : '';
}
