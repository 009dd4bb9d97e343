import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Another live process (or another app in this one) holds the data folder. */
export class DataFolderInUseError extends Error {
  override readonly name = 'DataFolderInUseError';
}

/** Folders this process holds, so a second app in the same process is refused too. */
const heldHere = new Set<string>();

/** Whether a process with this pid is alive (EPERM: alive, owned by another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data folder for this process: a lock file holding its pid. The embedded database serves
 * one process, which at start-up requeues every RUNNING row as orphaned; a second process on the same
 * folder would take the first one's running work. A lock left by a dead process (kill -9) is taken over.
 * Returns the release function.
 */
export function lockDataFolder(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const file = join(dir, 'sluice.lock');
  for (let tries = 0; ; tries++) {
    if (heldHere.has(dir)) throw inUse(dir, process.pid);
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      heldHere.add(dir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 2) throw error;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) throw inUse(dir, pid);
      // Stale: its process is gone (or it is ours, from an app of this process that did not stop).
      unlinkSync(file);
    }
  }
  return () => {
    if (!heldHere.delete(dir)) return;
    try {
      if (Number.parseInt(readFileSync(file, 'utf8'), 10) === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

function inUse(dir: string, pid: number): DataFolderInUseError {
  const who = pid === process.pid ? 'another app in this process' : `another Sluice process (pid ${pid})`;
  return new DataFolderInUseError(
    `the data folder ${dir} is in use by ${who}: one process serves an embedded database. ` +
      'Stop that process first, use another SLUICE_DATA_DIR, or run several nodes on PostgreSQL (DATABASE_URL).',
  );
}
