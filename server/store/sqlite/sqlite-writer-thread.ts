// The page writer thread (see sqlite-page-writer.ts): a second connection to the store's file that
// applies the job writes which store pages, one request at a time, each in its own transaction.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { FencedError } from '../../executions/types.ts';
import { writeManySync } from './sqlite-writes.ts';
import type { WriterReply, WriterRequest } from './sqlite-page-writer.ts';

const port = parentPort!;
const { file, hold } = workerData as { file: string; hold?: SharedArrayBuffer };
const db = new Database(file);
/** Tests only (PageWriter's hold): each transaction says it has begun and waits to be let go on. */
const pause = hold
  ? () => {
      const flag = new Int32Array(hold);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      Atomics.wait(flag, 0, 1);
    }
  : undefined;
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
// IMMEDIATE: the write lock is taken before the fence is read, so the row read is the newest
const writeGroup = db.transaction((request: Extract<WriterRequest, { kind: 'write' }>) => writeManySync(db, request.fence, request.writes, pause));
port.postMessage({ ready: true } satisfies WriterReply);

port.on('message', (request: WriterRequest) => {
  if (request.kind === 'close') {
    db.close();
    port.postMessage({ closed: true } satisfies WriterReply);
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { id: request.id, result: writeGroup.immediate(request) };
  } catch (error) {
    reply = error instanceof FencedError ? { id: request.id, fenced: error.executionId } : { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
