import { constants } from 'node:os';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';

/**
 * Reads the environment, starts one node, and drains it on SIGTERM or SIGINT: exit 0 once stopped,
 * 1 past the deadline (SLUICE_SHUTDOWN_TIMEOUT_MS); a second signal exits at once.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const app = createApp(config);
  // A rejection nothing handled is a bug to fix, not a reason to orphan every execution on the node.
  process.on('unhandledRejection', (reason) => app.reportUnhandledRejection(reason));
  const { url } = await app.start();
  console.log(`Sluice listening on ${url} (GraphiQL: ${url}/graphql)`);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting at once');
      app.log.flush();
      process.exit(128 + constants.signals[signal]); // what the shell reports for a process a signal ended
    }
    stopping = true;
    app.log.info({ signal }, 'stopping: draining requests, then releasing running executions so they resume on the next start');
    const deadline = setTimeout(() => {
      app.log.error(`stopping took longer than ${config.shutdownTimeoutMs} ms (SLUICE_SHUTDOWN_TIMEOUT_MS): exiting anyway`);
      app.log.flush();
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(`Sluice could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
