// Small helpers shared by the benchmarks: percentiles, options, peak memory, child processes, printing.
import { execFileSync, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { partState, ROOT } from '../scripts/build-state.js';

/** The q-th percentile (0..100) of the values, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: percentile(values, 100) };
}

/** "p50 1.2 ms  p99 3.4 ms  max 5.6 ms  (n=200)" */
export function formatSummary(s: Summary): string {
  return `p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.n})`;
}

export function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** A whole-number option from argv (`--name=value`) or the environment (`BENCH_NAME`), else the fallback. */
export function intOption(name: string, fallback: number): number {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = flag ? flag.slice(name.length + 3) : process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number; it is "${raw}"`);
  return value;
}

/**
 * Where the crawl benchmarks take Sluice from (`--from=build|sources`, default build): the built
 * server (`node dist/server/main.js`, what `npm start` and a deployment run), or the TypeScript
 * sources through tsx, in the bench's own child process.
 */
export function serverFrom(): 'build' | 'sources' {
  const flag = process.argv.find((a) => a.startsWith('--from='))?.slice('--from='.length) ?? process.env.BENCH_FROM ?? 'build';
  if (flag !== 'build' && flag !== 'sources') throw new Error(`--from must be build or sources; it is "${flag}"`);
  return flag;
}

/** Builds the server (`node scripts/build.js server`) when dist/ is missing or older than its sources, and says so. */
export function ensureServerBuilt(): void {
  const state = partState('server');
  if (state === 'fresh') return;
  console.log(`the server build is ${state}: node scripts/build.js server`);
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.js'), 'server'], { stdio: 'inherit' });
}

/** Fisher-Yates shuffle, seeded so that a run can be repeated. */
export function shuffled<T>(items: readonly T[], seed = 42): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Samples this process's RSS every `everyMs`; `peak()` is the larger of the samples and VmHWM. */
export function rssSampler(everyMs = 50): { peak(): number; stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), everyMs);
  timer.unref();
  const read = () => Math.max(peak, vmHwm());
  return {
    peak: read,
    stop() {
      clearInterval(timer);
      return read();
    },
  };
}

/** Peak resident set size of a process (default: this one) from /proc (0 where there is no /proc). */
export function vmHwm(pid: number | 'self' = 'self'): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a TypeScript file in a child process (tsx) and resolves with the first message it sends. */
export function runChild<T>(file: string, args: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(file, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: { value: T } | null = null;
    child.once('message', (message) => (result = { value: message as T }));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result) resolve(result.value);
      else reject(new Error(`${file} exited with code ${code} without a result`));
    });
  });
}

/** The machine, for the report: CPU model, cores, memory, node version. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}`;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });

/**
 * A GraphQL request over plain node:http with a keep-alive agent. Lighter than the global fetch
 * (which costs several ms of client CPU per call on a busy 2-core machine), so a round trip measures
 * the server rather than the client.
 */
export function postGraphql<T>(url: string, query: string, variables: Record<string, unknown>, retried = false): Promise<{ data?: T; errors?: { message: string }[] }> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/graphql`, { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed as idle just as this request went out: the request was
      // never read, so it is sent again once on a new socket (as Node's documentation advises).
      if (!retried && req.reusedSocket && error.code === 'ECONNRESET') resolve(postGraphql<T>(url, query, variables, true));
      else reject(Object.assign(error, { message: `${error.message} (${query.slice(0, 60)})` }));
    });
    req.end(body);
  });
}

/** Closes the keep-alive sockets of postGraphql so the process can exit. */
export function closeHttp(): void {
  keepAlive.destroy();
}

/**
 * CPU time (user + system) of this process's main thread alone, from /proc (Linux; 10 ms ticks):
 * process.cpuUsage() also counts worker threads. NaN where /proc is missing.
 */
export function mainThreadCpuMs(): number {
  return threadCpuMs(process.pid, process.pid);
}

function threadCpuMs(pid: number, tid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // the fields after the command name, which is in parentheses and may hold spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Where a process's CPU went between two points, by thread (Linux; NaN elsewhere). */
export interface ThreadSplit {
  /** The main thread. */
  mainMs: number;
  /** Threads started after the first point (a crawl's page workers, their start-up included). */
  newMs: number;
  /** The threads that were already there besides the main one: V8's (GC, compiler) and libuv's. */
  otherMs: number;
}

/**
 * Starts a per-thread CPU measure of process `pid` (default: this one); `stop()` gives the split since
 * the start. `existing`: the threads that count as already there (default: those running now).
 */
export function threadSplit(pid = process.pid, existing?: ReadonlySet<number>): { stop(): ThreadSplit } {
  const before = new Map(taskIds(pid).map((tid) => [tid, threadCpuMs(pid, tid)]));
  return {
    stop() {
      const split: ThreadSplit = { mainMs: 0, newMs: 0, otherMs: 0 };
      for (const tid of taskIds(pid)) {
        const ms = threadCpuMs(pid, tid);
        if (Number.isNaN(ms)) continue;
        const from = before.get(tid);
        if (tid === pid) split.mainMs = ms - (from ?? 0);
        else if (existing ? !existing.has(tid) : from === undefined) split.newMs += ms - (from ?? 0);
        else split.otherMs += ms - (from ?? 0);
      }
      return split;
    },
  };
}

/** The thread ids of process `pid`. */
export function taskIds(pid = process.pid): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** CPU time (user + system) of a whole process, all its threads, from /proc (Linux; 10 ms ticks). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Resident set size of a process now, from /proc (0 where there is no /proc). */
export function vmRss(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** What a benchmark's site process counts: the requests it served, the distinct pages among them, its CPU time. */
export interface SiteStats {
  requests: number;
  distinctPages: number;
  cpuMs: number;
}

/**
 * Starts a benchmark's web site in a child process (`script` with `args`), so its CPU is not the
 * crawler's: it sends its url when it listens, answers 'stats' with its SiteStats, and stops on 'close'.
 */
export function startBenchSite(script: string, args: string[]): Promise<{ url: string; stats(): Promise<SiteStats>; close(): void }> {
  const child = fork(script, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  return next<{ url: string }>().then(({ url }) => ({
    url,
    stats: () => {
      const answer = next<SiteStats>();
      child.send('stats');
      return answer;
    },
    close: () => child.send('close'),
  }));
}
