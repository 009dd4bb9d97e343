// Wire types of the Sluice GraphQL API (/work/shared/contract.graphql plus the history, knowledge
// source and chat session fields), written by hand: the client needs a few dozen fields and a codegen
// step would cost more than it saves.

export const EXECUTION_KINDS = ['CRAWL', 'CHAT'] as const;
export type ExecutionKind = (typeof EXECUTION_KINDS)[number];

export const EXECUTION_STATUSES = [
  'QUEUED',
  'RUNNING',
  'CANCELLING',
  'CANCELLED',
  'SUCCEEDED',
  'FAILED',
  'INTERRUPTED',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export const ACTIVE_STATUSES: readonly ExecutionStatus[] = ['QUEUED', 'RUNNING', 'CANCELLING'];
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['CANCELLED', 'SUCCEEDED', 'FAILED', 'INTERRUPTED'];

/** True once nothing can change the status any more. */
export function isTerminal(status: ExecutionStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

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
  kind: ExecutionKind;
  status: ExecutionStatus;
  title: string;
  sessionId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  progress: Progress;
  cancelRequestedAt: string | null;
  cancelReason: string | null;
  error: string | null;
  lastSeq: number;
  node: string | null;
}

export type ExecutionEventType = 'STATUS' | 'PROGRESS' | 'LOG' | 'PAGE' | 'TOKEN';

export interface ExecutionEvent {
  executionId: string;
  seq: number;
  at: string;
  type: ExecutionEventType;
  status: ExecutionStatus;
  progress: Progress;
  message: string | null;
}

export interface StartCrawlInput {
  url: string;
  maxDepth?: number | null;
  maxPages?: number | null;
  includePatterns?: string[] | null;
  excludePatterns?: string[] | null;
  respectRobotsTxt?: boolean | null;
  sessionId?: string | null;
}

export interface CancelResult {
  accepted: boolean;
  execution: Execution;
}

export interface KnowledgeHit {
  url: string;
  title: string;
  snippet: string;
  score: number;
}

export interface KnowledgeSource {
  id: string;
  url: string;
  title: string;
  pages: number;
  chunks: number;
  lastCrawledAt: string | null;
  lastExecutionId: string | null;
}

export interface ChatMessage {
  id: string;
  role: string;
  text: string;
  executionId: string | null;
  /** Of the execution writing an assistant message (CANCELLED: it stopped where the text ends); null for user messages. */
  status: ExecutionStatus | null;
  createdAt: string;
}

export interface ChatSession {
  id: string;
  title: string;
  messages: ChatMessage[];
}

export interface ChatSessionSummary {
  id: string;
  title: string;
}
