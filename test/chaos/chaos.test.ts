import { describe, expect, it } from 'vitest';
import { describeSchedule, scheduleFor } from './schedule.ts';
import { runSeeds } from './runner.ts';

// The fixed set CI runs: a few seeded fault schedules per store (a minute or two in all). More seeds:
// `npm run chaos -- --seeds 1000`; one seed again: `npm run chaos -- --store sqlite --seed 17`.
const CI_SEEDS = [1, 2, 3, 4];

describe('seeded fault schedules', () => {
  it('a seed gives the same schedule every time', () => {
    expect(describeSchedule(scheduleFor(42, 'postgres'))).toBe(describeSchedule(scheduleFor(42, 'postgres')));
    expect(describeSchedule(scheduleFor(42, 'sqlite'))).not.toBe(describeSchedule(scheduleFor(43, 'sqlite')));
  });

  describe.each(['sqlite', 'postgres'] as const)('on %s', (dialect) => {
    it(`hold every invariant over seeds ${CI_SEEDS[0]}..${CI_SEEDS.at(-1)}`, { timeout: 120_000 }, async () => {
      const summary = await runSeeds(CI_SEEDS, dialect, { parallel: 2 });
      expect(summary.schedules).toBe(CI_SEEDS.length);
      expect(summary.checks).toBeGreaterThan(CI_SEEDS.length * 10);
      expect(summary.failures.map((f) => `seed ${f.seed}:\n${f.violations.join('\n')}\n${f.schedule}`)).toEqual([]);
    });
  });
});
