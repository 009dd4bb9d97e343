import { gql } from '@urql/core';
import type {
  CancelResult,
  ChatSession,
  ChatSessionSummary,
  Execution,
  ExecutionEvent,
  ExecutionKind,
  ExecutionStatus,
  KnowledgeHit,
  KnowledgeSource,
  StartCrawlInput,
} from './types.ts';

// Every operation the client sends, in one place, typed with its data and variables.

const PROGRESS_FIELDS = `
  percent stage message pagesDiscovered pagesFetched pagesFailed pagesSkipped bytesFetched chunksStored
`;

/** The selection of an Execution, as a string so it can be spliced into the aliased batch cancel. */
export const EXECUTION_FIELDS = `
  id kind status title sessionId createdAt startedAt finishedAt durationMs
  progress { ${PROGRESS_FIELDS} }
  cancelRequestedAt cancelReason error lastSeq node
`;

export const ActiveExecutionsQuery = gql<{ activeExecutions: Execution[] }, { kind?: ExecutionKind | null }>(`
  query ActiveExecutions($kind: ExecutionKind) {
    activeExecutions(kind: $kind) { ${EXECUTION_FIELDS} }
  }
`);

export const ExecutionQuery = gql<{ execution: Execution | null }, { id: string }>(`
  query Execution($id: ID!) {
    execution(id: $id) { ${EXECUTION_FIELDS} }
  }
`);

export const ExecutionHistoryQuery = gql<
  { executions: Execution[] },
  { kind?: ExecutionKind | null; status?: ExecutionStatus[] | null; limit?: number | null }
>(`
  query ExecutionHistory($kind: ExecutionKind, $status: [ExecutionStatus!], $limit: Int) {
    executions(kind: $kind, status: $status, limit: $limit) { ${EXECUTION_FIELDS} }
  }
`);

export const StartCrawlMutation = gql<{ startCrawl: Execution }, { input: StartCrawlInput }>(`
  mutation StartCrawl($input: StartCrawlInput!) {
    startCrawl(input: $input) { ${EXECUTION_FIELDS} }
  }
`);

export const CancelExecutionMutation = gql<{ cancelExecution: CancelResult }, { id: string; reason?: string | null }>(`
  mutation CancelExecution($id: ID!, $reason: String) {
    cancelExecution(id: $id, reason: $reason) { accepted execution { ${EXECUTION_FIELDS} } }
  }
`);

export const JobProgressSubscription = gql<{ jobProgress: ExecutionEvent }, { executionId: string; afterSeq?: number | null }>(`
  subscription JobProgress($executionId: ID!, $afterSeq: Int) {
    jobProgress(executionId: $executionId, afterSeq: $afterSeq) {
      executionId seq at type status message
      progress { ${PROGRESS_FIELDS} }
    }
  }
`);

export const ExecutionChangedSubscription = gql<{ executionChanged: Execution }, Record<string, never>>(`
  subscription ExecutionChanged {
    executionChanged { ${EXECUTION_FIELDS} }
  }
`);

export const KnowledgeSourcesQuery = gql<{ knowledgeSources: KnowledgeSource[] }, Record<string, never>>(`
  query KnowledgeSources {
    knowledgeSources { id url title pages chunks lastCrawledAt lastExecutionId }
  }
`);

export const SearchKnowledgeQuery = gql<{ searchKnowledge: KnowledgeHit[] }, { query: string; limit?: number | null }>(`
  query SearchKnowledge($query: String!, $limit: Int) {
    searchKnowledge(query: $query, limit: $limit) { url title snippet score }
  }
`);

export const DeleteKnowledgeSourceMutation = gql<{ deleteKnowledgeSource: boolean }, { id: string }>(`
  mutation DeleteKnowledgeSource($id: ID!) {
    deleteKnowledgeSource(id: $id)
  }
`);

export const ChatSessionsQuery = gql<{ chatSessions: ChatSessionSummary[] }, { limit?: number | null }>(`
  query ChatSessions($limit: Int) {
    chatSessions(limit: $limit) { id title }
  }
`);

export const ChatSessionQuery = gql<{ chatSession: ChatSession | null }, { id: string }>(`
  query ChatSession($id: ID!) {
    chatSession(id: $id) { id title messages { id role text executionId status createdAt } }
  }
`);

export const SendChatMessageMutation = gql<
  { sendChatMessage: Execution },
  { input: { sessionId?: string | null; text: string } }
>(`
  mutation SendChatMessage($input: SendChatMessageInput!) {
    sendChatMessage(input: $input) { ${EXECUTION_FIELDS} }
  }
`);
