import type { BulkOutcome, CancelOutcome } from '../engine/engine.ts';
import type { Progress } from '../executions/progress.ts';
import type { StoredPage } from '../store/knowledge-records.ts';
import { EXECUTION_STATUSES } from '../executions/status.ts';
import { EVENT_TYPES, EXECUTION_KINDS, type Execution, type ExecutionEvent } from '../executions/types.ts';
import {
  activeExecutions,
  cancelExecution,
  cancelExecutions,
  executionHistory,
  executionPages,
  type HistoryConnection,
  getExecution,
  listExecutions,
  pauseExecution,
  pauseExecutions,
  queuePosition,
  resumeExecution,
  rerunExecution,
  resumeExecutions,
  setExecutionPriority,
  watchChanges,
  watchExecution,
} from '../services/executions.ts';
import { builder } from './builder.ts';

export const ExecutionKindEnum = builder.enumType('ExecutionKind', { values: EXECUTION_KINDS });
export const ExecutionStatusEnum = builder.enumType('ExecutionStatus', { values: EXECUTION_STATUSES });
const EventTypeEnum = builder.enumType('ExecutionEventType', { values: EVENT_TYPES });

const ProgressRef = builder.objectRef<Progress>('Progress').implement({
  fields: (t) => ({
    percent: t.exposeFloat('percent', { nullable: true, description: '0..100, never decreases; null while unknown' }),
    stage: t.exposeString('stage', { description: 'queued, starting, discovering, fetching, answering, done, ...' }),
    message: t.exposeString('message', { nullable: true }),
    pagesDiscovered: t.exposeInt('pagesDiscovered'),
    pagesFetched: t.exposeInt('pagesFetched'),
    pagesFailed: t.exposeInt('pagesFailed'),
    pagesSkipped: t.exposeInt('pagesSkipped'),
    bytesFetched: t.exposeFloat('bytesFetched'),
    chunksStored: t.exposeInt('chunksStored'),
  }),
});

export const ExecutionRef = builder.objectRef<Execution>('Execution').implement({
  description: 'A unit of background work (a crawl, a chat answer). Its database row is the truth.',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: ExecutionKindEnum, resolve: (e) => e.kind }),
    status: t.field({ type: ExecutionStatusEnum, resolve: (e) => e.status }),
    title: t.exposeString('title', { description: 'The start URL of a crawl, the question of a chat' }),
    sessionId: t.exposeID('sessionId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.finishedAt }),
    durationMs: t.float({
      nullable: true,
      description: 'So far while running, total once finished',
      resolve: (e) => (e.startedAt === null ? null : (e.finishedAt ?? Date.now()) - e.startedAt),
    }),
    progress: t.field({ type: ProgressRef, resolve: (e) => e.progress }),
    cancelRequestedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.cancelRequestedAt }),
    cancelReason: t.exposeString('cancelReason', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    lastSeq: t.exposeInt('lastSeq', { description: 'seq of the newest event of this execution' }),
    node: t.string({
      nullable: true,
      description: 'The node running it now (SLUICE_NODE_ID); null when not running',
      resolve: (e) => (e.status === 'RUNNING' || e.status === 'CANCELLING' ? e.node : null),
    }),
    attempt: t.exposeInt('attempt', { description: 'Starts at 1; grows each time it resumes (after its node stopped, or a pause)' }),
    priority: t.exposeInt('priority', { description: 'Higher is claimed first (-10..10, default 0); FIFO within a priority' }),
    queuePosition: t.int({
      nullable: true,
      description: '1-based place in the queue (priority, then FIFO) while QUEUED; null otherwise',
      resolve: (e, _, ctx) => queuePosition(ctx, e),
    }),
    createdBy: t.exposeString('createdBy', { nullable: true, description: 'Who started it: a token name, or "local"' }),
    cancelledBy: t.exposeString('cancelledBy', { nullable: true, description: 'Who cancelled it: a token name, or "local"' }),
  }),
});

const ExecutionEventRef = builder.objectRef<ExecutionEvent>('ExecutionEvent').implement({
  fields: (t) => ({
    executionId: t.exposeID('executionId'),
    seq: t.exposeInt('seq', { description: '1, 2, 3, ... per execution: no gaps, no repeats' }),
    at: t.field({ type: 'DateTime', resolve: (e) => e.at }),
    type: t.field({ type: EventTypeEnum, resolve: (e) => e.type }),
    status: t.field({ type: ExecutionStatusEnum, resolve: (e) => e.status }),
    progress: t.field({ type: ProgressRef, resolve: (e) => e.progress }),
    message: t.exposeString('message', { nullable: true }),
  }),
});

const CancelResultRef = builder.objectRef<CancelOutcome>('CancelResult').implement({
  fields: (t) => ({
    accepted: t.exposeBoolean('accepted', { description: 'false when it had already ended' }),
    execution: t.field({ type: ExecutionRef, resolve: (r) => r.execution }),
  }),
});

const CancelManyResultRef = builder.objectRef<CancelOutcome[]>('CancelManyResult').implement({
  fields: (t) => ({
    cancelled: t.int({ description: 'How many were accepted', resolve: (all) => all.filter((r) => r.accepted).length }),
    executions: t.field({ type: [ExecutionRef], resolve: (all) => all.map((r) => r.execution) }),
  }),
});

const BulkResultRef = builder.objectRef<BulkOutcome>('BulkResult').implement({
  fields: (t) => ({
    affected: t.exposeInt('affected', { description: 'How many moved' }),
    executions: t.field({ type: [ExecutionRef], description: 'Every execution that matched, as it is now', resolve: (r) => r.executions }),
  }),
});

const StoredPageRef = builder.objectRef<StoredPage>('StoredPage').implement({
  description: 'A page an execution stored in the knowledge base',
  fields: (t) => ({
    url: t.exposeString('url'),
    title: t.exposeString('title'),
    chunks: t.exposeInt('chunks', { description: 'How many passages it was split into' }),
    storedAt: t.field({ type: 'DateTime', resolve: (p) => p.storedAt }),
  }),
});

const StoredPageConnectionRef = builder
  .objectRef<{ pages: StoredPage[]; nextCursor: string | null }>('StoredPageConnection')
  .implement({
    fields: (t) => ({
      pages: t.field({ type: [StoredPageRef], resolve: (c) => c.pages }),
      nextCursor: t.exposeString('nextCursor', { nullable: true, description: 'Pass as after for the next page; null on the last page' }),
    }),
  });

const ExecutionConnectionRef = builder.objectRef<HistoryConnection>('ExecutionConnection').implement({
  description: 'A page of the history',
  fields: (t) => ({
    executions: t.field({ type: [ExecutionRef], resolve: (c) => c.executions }),
    nextCursor: t.exposeString('nextCursor', { nullable: true, description: 'Pass as after for the next page; null on the last page' }),
    totalCount: t.exposeInt('totalCount', { description: 'How many executions match the filters in all, on every page' }),
  }),
});

builder.queryFields((t) => ({
  executionHistory: t.field({
    type: ExecutionConnectionRef,
    description:
      'History a page at a time: newest first, optionally filtered by kind, status, session and text, with how many match. limit 1..500, default 50.',
    args: {
      kind: t.arg({ type: ExecutionKindEnum }),
      status: t.arg({ type: [ExecutionStatusEnum] }),
      sessionId: t.arg.id(),
      text: t.arg.string({ description: 'Only titles (a crawl\'s URL, a chat\'s question) containing it; ASCII letters match either case; at most 200 characters' }),
      after: t.arg.string({ description: 'The nextCursor of the page before' }),
      limit: t.arg.int(),
    },
    resolve: (_, args, ctx) => executionHistory(ctx, args),
  }),
  executionPages: t.field({
    type: StoredPageConnectionRef,
    description: 'The pages a crawl stored, in the order it stored them (a page a later crawl stores again, changed, moves to that one). limit 1..200, default 50.',
    args: { executionId: t.arg.id({ required: true }), after: t.arg.string(), limit: t.arg.int() },
    resolve: (_, args, ctx) => executionPages(ctx, args),
  }),
  activeExecutions: t.field({
    type: [ExecutionRef],
    description: 'QUEUED, RUNNING, CANCELLING and PAUSED executions, oldest first',
    args: { kind: t.arg({ type: ExecutionKindEnum }), sessionId: t.arg.id() },
    resolve: (_, args, ctx) => activeExecutions(ctx, args),
  }),
  execution: t.field({
    type: ExecutionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => getExecution(ctx, args.id),
  }),
  executions: t.field({
    type: [ExecutionRef],
    description: 'History: every execution, newest first, optionally filtered by kind and status',
    args: {
      kind: t.arg({ type: ExecutionKindEnum }),
      status: t.arg({ type: [ExecutionStatusEnum] }),
      sessionId: t.arg.id(),
      limit: t.arg.int({ description: '1..500, default 50' }),
    },
    resolve: (_, args, ctx) => listExecutions(ctx, args),
  }),
}));

builder.mutationFields((t) => ({
  cancelExecution: t.field({
    type: CancelResultRef,
    description: 'Stops an execution at once and for good. Unknown id: NOT_FOUND; already ended: accepted=false.',
    args: { id: t.arg.id({ required: true }), reason: t.arg.string() },
    resolve: (_, args, ctx) => cancelExecution(ctx, args),
  }),
  cancelExecutions: t.field({
    type: CancelManyResultRef,
    description: 'Cancels every active execution that matches every filter given (all of them when none is given)',
    args: { ids: t.arg.idList(), sessionId: t.arg.id(), kind: t.arg({ type: ExecutionKindEnum }), reason: t.arg.string() },
    resolve: (_, args, ctx) => cancelExecutions(ctx, args),
  }),
  pauseExecution: t.field({
    type: ExecutionRef,
    description:
      'QUEUED|RUNNING -> PAUSED, its checkpoint kept; resumeExecution continues it. A kind that cannot resume (CHAT): CONFLICT. Already paused: returned as is.',
    args: { id: t.arg.id({ required: true }), reason: t.arg.string() },
    resolve: (_, args, ctx) => pauseExecution(ctx, args),
  }),
  resumeExecution: t.field({
    type: ExecutionRef,
    description: 'PAUSED -> QUEUED (attempt + 1): it continues from its checkpoint on any node. Ended or cancelling: CONFLICT.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => resumeExecution(ctx, args),
  }),
  pauseExecutions: t.field({
    type: BulkResultRef,
    description: 'Pauses every QUEUED or RUNNING execution that matches every filter given and can resume',
    args: { ids: t.arg.idList(), sessionId: t.arg.id(), kind: t.arg({ type: ExecutionKindEnum }), reason: t.arg.string() },
    resolve: (_, args, ctx) => pauseExecutions(ctx, args),
  }),
  resumeExecutions: t.field({
    type: BulkResultRef,
    description: 'Resumes every PAUSED execution that matches every filter given',
    args: { ids: t.arg.idList(), sessionId: t.arg.id(), kind: t.arg({ type: ExecutionKindEnum }) },
    resolve: (_, args, ctx) => resumeExecutions(ctx, args),
  }),
  rerunExecution: t.field({
    type: ExecutionRef,
    description: 'Starts a new execution with the same kind and input (a chat question is asked again in its session)',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, args, ctx) => rerunExecution(ctx, args),
  }),
  setExecutionPriority: t.field({
    type: ExecutionRef,
    description: 'Changes the priority (-10..10) of a QUEUED or PAUSED execution; CONFLICT once it runs or ended',
    args: { id: t.arg.id({ required: true }), priority: t.arg.int({ required: true }) },
    resolve: (_, args, ctx) => setExecutionPriority(ctx, args),
  }),
}));

builder.subscriptionFields((t) => ({
  jobProgress: t.field({
    type: ExecutionEventRef,
    description:
      'Replays the persisted events with seq > afterSeq (all when omitted), then streams live ones; completes after the terminal event (PAUSED is not one: a resume continues the stream)',
    args: { executionId: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: (_, args, ctx) => watchExecution(ctx, args),
    resolve: (event) => event,
  }),
  executionChanged: t.field({
    type: ExecutionRef,
    description: 'Every status change of any execution: the live form of activeExecutions',
    subscribe: (_, __, ctx) => watchChanges(ctx),
    resolve: (execution) => execution,
  }),
}));
