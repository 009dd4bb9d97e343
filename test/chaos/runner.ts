// Runs many schedules (a few at once) and sums them up; shared by the vitest file and `npm run chaos`.
import { startPrivateRedis, type PrivateRedis } from '../helpers/cluster.ts';
import { runSchedule, type Report } from './harness.ts';
import { describeSchedule, scheduleFor, type Dialect, type Family } from './schedule.ts';

export interface Summary {
  dialect: Dialect;
  family: Family;
  schedules: number;
  checks: number;
  executions: number;
  pauses: number;
  resumes: number;
  storeFaults: number;
  /** Each failing seed with what it broke. */
  failures: { seed: number; violations: string[]; schedule: string }[];
  cancelLatenciesMs: number[];
  faultedCancelLatenciesMs: number[];
  durationMs: number;
}

/** A schedule that takes this long is reported as hung (and left behind). */
const HUNG_MS = 90_000;

function hungReport(seed: number, dialect: Dialect, family: Family, stage: string): Report {
  return {
    seed, dialect, family, checks: 1, violations: [`the schedule hung for ${HUNG_MS / 1000} s in its ${stage} stage`],
    cancelLatenciesMs: [], faultedCancelLatenciesMs: [], executions: 0, pauses: 0, resumes: 0, storeCalls: 0, storeFaults: 0, durationMs: HUNG_MS,
  };
}

/** Runs `seeds` on one store, `parallel` at a time, with one private Redis the schedules may restart. */
export async function runSeeds(
  seeds: readonly number[],
  dialect: Dialect,
  options: { family?: Family; parallel?: number; onReport?: (report: Report) => void; /** Stop taking seeds after this many seconds. */ maxSeconds?: number } = {},
): Promise<Summary> {
  const family = options.family ?? 'engine';
  const began = performance.now();
  let redis: PrivateRedis | null = null;
  if (dialect === 'postgres') redis = await startPrivateRedis();
  const summary: Summary = { dialect, family, schedules: 0, checks: 0, executions: 0, pauses: 0, resumes: 0, storeFaults: 0, failures: [], cancelLatenciesMs: [], faultedCancelLatenciesMs: [], durationMs: 0 };
  const queue = [...seeds];
  const env = { redis, restarting: false };
  try {
    await Promise.all(
      Array.from({ length: Math.max(1, options.parallel ?? 1) }, async () => {
        const stopAt = options.maxSeconds ? began + options.maxSeconds * 1000 : Infinity;
        for (let seed = queue.shift(); seed !== undefined && performance.now() < stopAt; seed = queue.shift()) {
          const schedule = scheduleFor(seed, dialect, family);
          const where = { stage: 'start' };
          let timer: NodeJS.Timeout | undefined;
          const hung = new Promise<Report>((resolve) => {
            timer = setTimeout(() => resolve(hungReport(seed, schedule.dialect, schedule.family, where.stage)), HUNG_MS);
          });
          const report = await Promise.race([runSchedule(schedule, env, where), hung]);
          clearTimeout(timer);
          summary.schedules++;
          summary.checks += report.checks;
          summary.executions += report.executions;
          summary.pauses += report.pauses;
          summary.resumes += report.resumes;
          summary.storeFaults += report.storeFaults;
          summary.cancelLatenciesMs.push(...report.cancelLatenciesMs);
          summary.faultedCancelLatenciesMs.push(...report.faultedCancelLatenciesMs);
          if (report.violations.length) summary.failures.push({ seed, violations: report.violations, schedule: describeSchedule(schedule) });
          options.onReport?.(report);
        }
      }),
    );
  } finally {
    await redis?.kill();
  }
  summary.durationMs = Math.round(performance.now() - began);
  return summary;
}

/** p50 / p95 / max of a list of milliseconds. */
export function percentiles(values: readonly number[]): { n: number; p50: number; p95: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0 };
}
