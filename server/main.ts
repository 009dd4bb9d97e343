import { createApp } from './app.ts';
import { loadConfig } from './config.ts';

/** Reads the environment, starts one node, and stops it gracefully on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  const app = createApp(loadConfig());
  const { url } = await app.start();
  console.log(`Sluice listening on ${url} (GraphiQL: ${url}/graphql)`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'stopping: releasing running executions so they resume on the next start');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(`Sluice could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
