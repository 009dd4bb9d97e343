// The parts of the API's Execution and ExecutionEvent types the CLI reads, and their selections.

export interface Progress {
  percent: number | null;
  stage: string;
  message: string | null;
  pagesDiscovered: number;
  pagesFetched: number;
  pagesFailed: number;
  pagesSkipped: number;
  bytesFetched: number;
  chunksStored: number;
}

export interface Execution {
  id: string;
  kind: string;
  status: string;
  title: string;
  sessionId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  cancelReason: string | null;
  error: string | null;
  lastSeq: number;
  node: string | null;
  progress: Progress;
}

export interface ExecutionEvent {
  executionId: string;
  seq: number;
  at: string;
  type: string;
  status: string;
  message: string | null;
  progress: Progress;
}

const PROGRESS_FIELDS = 'percent stage message pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored';

/** The selection of an Execution every command asks for. */
export const EXECUTION_FIELDS = `id kind status title sessionId createdAt startedAt finishedAt durationMs cancelReason error lastSeq node progress { ${PROGRESS_FIELDS} }`;

export const EVENT_FIELDS = `executionId seq at type status message progress { ${PROGRESS_FIELDS} }`;

export const EXECUTION_QUERY = `query Execution($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} } }`;

export const JOB_PROGRESS = `subscription JobProgress($id: ID!, $after: Int) { jobProgress(executionId: $id, afterSeq: $after) { ${EVENT_FIELDS} } }`;
