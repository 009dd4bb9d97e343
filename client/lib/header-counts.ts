// What the header's running menu counts: RUNNING executions, and PAUSED ones apart (they hold no
// worker and do not run); as the user sees them (a pause just pressed counts as paused at once).
import { displayStatus, type ExecutionEntry } from './reconcile.ts';

/** How many of `entries` run now and how many are paused, by the status each shows. */
export function headerCounts(entries: readonly ExecutionEntry[]): { running: number; paused: number } {
  let running = 0;
  let paused = 0;
  for (const entry of entries) {
    const status = displayStatus(entry);
    if (status === 'RUNNING') running++;
    else if (status === 'PAUSED') paused++;
  }
  return { running, paused };
}
