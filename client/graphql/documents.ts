import { graphql, type ResultOf, type VariablesOf } from './tada.ts';

// Every operation the client sends, in one place, typed from schema/schema.graphql by gql.tada.

export const ProgressFields = graphql(`
  fragment ProgressFields on Progress {
    percent stage message pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored
  }
`);

export const ExecutionFields = graphql(
  `
  fragment ExecutionFields on Execution {
    id kind status title sessionId createdAt startedAt finishedAt durationMs
    progress { ...ProgressFields }
    cancelRequestedAt cancelReason error lastSeq node
  }
`,
  [ProgressFields],
);

export const EventFields = graphql(
  `
  fragment EventFields on ExecutionEvent {
    executionId seq at type status message
    progress { ...ProgressFields }
  }
`,
  [ProgressFields],
);

export const ActiveExecutionsQuery = graphql(
  `
  query ActiveExecutions($kind: ExecutionKind) {
    activeExecutions(kind: $kind) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const ExecutionQuery = graphql(
  `
  query Execution($id: ID!) {
    execution(id: $id) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const ExecutionDetailQuery = graphql(
  `
  query ExecutionDetail($id: ID!) {
    execution(id: $id) { ...ExecutionFields attempt priority createdBy cancelledBy }
  }
`,
  [ExecutionFields],
);

export const ExecutionPagesQuery = graphql(`
  query ExecutionPages($executionId: ID!, $after: String, $limit: Int) {
    executionPages(executionId: $executionId, after: $after, limit: $limit) { pages { url title chunks storedAt } nextCursor }
  }
`);

export const RerunExecutionMutation = graphql(
  `
  mutation RerunExecution($id: ID!) {
    rerunExecution(id: $id) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const ExecutionHistoryQuery = graphql(
  `
  query ExecutionHistory($kind: ExecutionKind, $status: [ExecutionStatus!], $text: String, $after: String, $limit: Int) {
    executionHistory(kind: $kind, status: $status, text: $text, after: $after, limit: $limit) {
      executions { ...ExecutionFields }
      nextCursor
      totalCount
    }
  }
`,
  [ExecutionFields],
);

export const StartCrawlMutation = graphql(
  `
  mutation StartCrawl($input: StartCrawlInput!) {
    startCrawl(input: $input) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const CancelExecutionMutation = graphql(
  `
  mutation CancelExecution($id: ID!, $reason: String) {
    cancelExecution(id: $id, reason: $reason) { accepted execution { ...ExecutionFields } }
  }
`,
  [ExecutionFields],
);

export const PauseExecutionMutation = graphql(
  `
  mutation PauseExecution($id: ID!, $reason: String) {
    pauseExecution(id: $id, reason: $reason) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const ResumeExecutionMutation = graphql(
  `
  mutation ResumeExecution($id: ID!) {
    resumeExecution(id: $id) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const CancelExecutionsMutation = graphql(
  `
  mutation CancelExecutions($ids: [ID!], $reason: String) {
    cancelExecutions(ids: $ids, reason: $reason) { cancelled executions { ...ExecutionFields } }
  }
`,
  [ExecutionFields],
);

export const JobProgressSubscription = graphql(
  `
  subscription JobProgress($executionId: ID!, $afterSeq: Int) {
    jobProgress(executionId: $executionId, afterSeq: $afterSeq) { ...EventFields }
  }
`,
  [EventFields],
);

export const ExecutionChangedSubscription = graphql(
  `
  subscription ExecutionChanged {
    executionChanged { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

export const KnowledgeSourcesQuery = graphql(`
  query KnowledgeSources {
    knowledgeSources { id url title pages chunks lastCrawledAt lastExecutionId }
  }
`);

export const SearchKnowledgeQuery = graphql(`
  query SearchKnowledge($query: String!, $limit: Int) {
    searchKnowledge(query: $query, limit: $limit) { url title heading snippet score }
  }
`);

export const DeleteKnowledgeSourceMutation = graphql(`
  mutation DeleteKnowledgeSource($id: ID!) {
    deleteKnowledgeSource(id: $id) { deleted cancelledExecutions }
  }
`);

export const ChatSessionsQuery = graphql(`
  query ChatSessions($after: String, $limit: Int) {
    chatSessionHistory(after: $after, limit: $limit) { sessions { id title } nextCursor totalCount }
  }
`);

export const ChatSessionQuery = graphql(`
  query ChatSession($id: ID!) {
    chatSession(id: $id) { id title messages { id role text executionId status createdAt } }
  }
`);

export const RenameChatSessionMutation = graphql(`
  mutation RenameChatSession($id: ID!, $title: String!) {
    renameChatSession(id: $id, title: $title) { id title }
  }
`);

export const DeleteChatSessionMutation = graphql(`
  mutation DeleteChatSession($id: ID!) {
    deleteChatSession(id: $id)
  }
`);

export const SendChatMessageMutation = graphql(
  `
  mutation SendChatMessage($input: SendChatMessageInput!) {
    sendChatMessage(input: $input) { ...ExecutionFields }
  }
`,
  [ExecutionFields],
);

/** The wire types the client reads, each derived from the selection that asks for it. */
export type Execution = ResultOf<typeof ExecutionFields>;
export type Progress = ResultOf<typeof ProgressFields>;
export type ExecutionEvent = ResultOf<typeof EventFields>;
export type ExecutionKind = Execution['kind'];
export type ExecutionStatus = Execution['status'];
export type ExecutionEventType = ExecutionEvent['type'];
export type StartCrawlInput = VariablesOf<typeof StartCrawlMutation>['input'];
export type KnowledgeSource = ResultOf<typeof KnowledgeSourcesQuery>['knowledgeSources'][number];
export type KnowledgeHit = ResultOf<typeof SearchKnowledgeQuery>['searchKnowledge'][number];
export type ExecutionDetail = NonNullable<ResultOf<typeof ExecutionDetailQuery>['execution']>;
export type StoredPage = ResultOf<typeof ExecutionPagesQuery>['executionPages']['pages'][number];
export type ChatSessionSummary = ResultOf<typeof ChatSessionsQuery>['chatSessionHistory']['sessions'][number];
export type ChatSession = NonNullable<ResultOf<typeof ChatSessionQuery>['chatSession']>;
export type ChatMessage = ChatSession['messages'][number];
