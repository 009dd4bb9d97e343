// Every operation the CLI sends, typed from schema/schema.graphql by gql.tada (`npm run typecheck`
// runs `gql.tada check`, so a field the API lacks fails it), and the wire types derived from them.
import { initGraphQLTada, type ResultOf } from 'gql.tada';
import type { introspection } from '../schema/graphql-env.d.ts';

const graphql = initGraphQLTada<{ introspection: introspection; scalars: { DateTime: string }; disableMasking: true }>();

const ProgressFields = graphql(`
  fragment CliProgress on Progress { percent stage message pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored }
`);

/** The selection of an Execution every command asks for. */
const ExecutionFields = graphql(
  `
  fragment CliExecution on Execution {
    id kind status title sessionId createdAt startedAt finishedAt durationMs cancelReason error lastSeq node attempt priority queuePosition progress { ...CliProgress }
  }
`,
  [ProgressFields],
);

const EventFields = graphql(
  `
  fragment CliEvent on ExecutionEvent { executionId seq at type status message progress { ...CliProgress } }
`,
  [ProgressFields],
);

export const EXECUTION_QUERY = graphql(
  `
  query Execution($id: ID!) { execution(id: $id) { ...CliExecution } }
`,
  [ExecutionFields],
);

export const JOB_PROGRESS = graphql(
  `
  subscription JobProgress($id: ID!, $after: Int) { jobProgress(executionId: $id, afterSeq: $after) { ...CliEvent } }
`,
  [EventFields],
);

export const CANCEL_ONE = graphql(
  `
  mutation Cancel($id: ID!, $reason: String) { cancelExecution(id: $id, reason: $reason) { accepted execution { ...CliExecution } } }
`,
  [ExecutionFields],
);

export const CANCEL_MANY = graphql(
  `
  mutation CancelMany($sessionId: ID, $kind: ExecutionKind, $reason: String) {
    cancelExecutions(sessionId: $sessionId, kind: $kind, reason: $reason) { cancelled executions { ...CliExecution } }
  }
`,
  [ExecutionFields],
);

export const PAUSE_ONE = graphql(
  `
  mutation Pause($id: ID!, $reason: String) { pauseExecution(id: $id, reason: $reason) { ...CliExecution } }
`,
  [ExecutionFields],
);

export const RESUME_ONE = graphql(
  `
  mutation Resume($id: ID!) { resumeExecution(id: $id) { ...CliExecution } }
`,
  [ExecutionFields],
);

export const PAUSE_MANY = graphql(
  `
  mutation PauseMany($ids: [ID!], $sessionId: ID, $kind: ExecutionKind, $reason: String) {
    pauseExecutions(ids: $ids, sessionId: $sessionId, kind: $kind, reason: $reason) { affected executions { ...CliExecution } }
  }
`,
  [ExecutionFields],
);

export const RESUME_MANY = graphql(
  `
  mutation ResumeMany($ids: [ID!], $sessionId: ID, $kind: ExecutionKind) {
    resumeExecutions(ids: $ids, sessionId: $sessionId, kind: $kind) { affected executions { ...CliExecution } }
  }
`,
  [ExecutionFields],
);

export const START_CRAWL = graphql(
  `
  mutation StartCrawl($input: StartCrawlInput!) { startCrawl(input: $input) { ...CliExecution } }
`,
  [ExecutionFields],
);

export const ACTIVE = graphql(
  `
  query Active($kind: ExecutionKind, $sessionId: ID) { activeExecutions(kind: $kind, sessionId: $sessionId) { ...CliExecution } }
`,
  [ExecutionFields],
);

export const HISTORY = graphql(
  `
  query History($kind: ExecutionKind, $sessionId: ID, $limit: Int) {
    executions(kind: $kind, sessionId: $sessionId, limit: $limit) { ...CliExecution }
  }
`,
  [ExecutionFields],
);

export type Progress = ResultOf<typeof ProgressFields>;
export type Execution = ResultOf<typeof ExecutionFields>;
export type ExecutionEvent = ResultOf<typeof EventFields>;
export type CancelResult = ResultOf<typeof CANCEL_ONE>['cancelExecution'];
export type CancelManyResult = ResultOf<typeof CANCEL_MANY>['cancelExecutions'];
