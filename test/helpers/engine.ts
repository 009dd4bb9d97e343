import { pino } from 'pino';
import { Engine, type EngineOptions } from '../../server/engine/engine.ts';
import { createSluicePubSub } from '../../server/pubsub.ts';
import { deferCleanup } from './cleanup.ts';

/** What a test gives an engine: everything but the log (silent) and the pub/sub (its own in-process one unless given). */
export type TestEngineOptions = Omit<EngineOptions, 'pubsub' | 'log'> & Partial<Pick<EngineOptions, 'pubsub' | 'log'>>;

/** An engine without the app (one node), started, and stopped after the current test. */
export async function engineForTest(options: TestEngineOptions): Promise<Engine> {
  const engine = new Engine({ ...options, pubsub: options.pubsub ?? createSluicePubSub(), log: options.log ?? pino({ level: 'silent' }) });
  await engine.start();
  deferCleanup(() => engine.stop());
  return engine;
}
