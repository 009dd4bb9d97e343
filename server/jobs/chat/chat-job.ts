import { defineJob, type Attempt, type Job, type JobContext } from '../../engine/job.ts';
import type { ExecutionWrite } from '../../executions/types.ts';
import type { ChatMessage, KnowledgeHit, KnowledgeSearchOptions } from '../../store/knowledge-records.ts';
import { nextTurn } from '../../lib/abort.ts';
import { AnswerWriter } from './answer-writer.ts';
import { composeAnswer, notFoundAnswer, pieces, sourcesBlock, type Citation } from './compose.ts';
import { buildPrompt, citationsOf, streamCompletion, type LlmSettings } from './llm.ts';
import { previousQuestion, retrieve, type Retrieval } from './retrieval.ts';

/** What sendChatMessage stores as the execution's input. */
export interface ChatInput {
  sessionId: string;
  /** The assistant message this execution writes. */
  messageId: string;
  question: string;
}

/** What a finished answer reports (the execution's result). */
export interface ChatResult {
  messageId: string;
  answerer: 'retrieval' | 'llm';
  /** URLs of the pages offered as sources, in citation order. */
  sources: string[];
  chars: number;
}

/** Messages of the session the job reads: enough for the previous question and a short LLM history. */
const HISTORY_MESSAGES = 8;

/** What a chat answer may do beyond its context. */
export interface ChatCapabilities {
  /** Ranked passages of the knowledge base (see Store.searchKnowledge). */
  searchKnowledge(query: string, limit: number, options?: KnowledgeSearchOptions): Promise<KnowledgeHit[]>;
  /** The newest `n` messages of a chat session, oldest first. */
  recentMessages(sessionId: string, n: number): Promise<ChatMessage[]>;
  /**
   * One fenced write of the answer (`write`, its TOKEN event); with `text`, the answer is complete
   * and its message's full text is written in the same transaction.
   */
  writeAnswer(messageId: string, write: ExecutionWrite, text: string | null): Promise<void>;
}

/** What a chat answer needs from the server config. */
export interface ChatSettings {
  /** An OpenAI-compatible chat completions endpoint; absent: answers are composed from passages. */
  llm?: LlmSettings;
}

/**
 * The CHAT job: retrieves passages for the question from the knowledge base and streams an answer
 * into the session's assistant message, composed from the passages or (when SLUICE_LLM_* is set)
 * written by a language model given them. Not resumable: an answer cut short by a dead node ends
 * INTERRUPTED, and the user asks again.
 */
export function chatJob(settings: ChatSettings, capabilities: (attempt: Attempt) => ChatCapabilities): Job {
  return defineJob<ChatInput, ChatResult, ChatCapabilities>({
    kind: 'CHAT',
    resumable: false,
    capabilities,
    run: (input, ctx, caps) => answer(input, ctx, caps, settings),
  });
}

async function answer(input: ChatInput, ctx: JobContext<ChatInput>, caps: ChatCapabilities, settings: ChatSettings): Promise<ChatResult> {
  ctx.progress({ stage: 'retrieving', message: null });
  const history = await caps.recentMessages(input.sessionId, HISTORY_MESSAGES);
  ctx.signal.throwIfAborted();
  const retrieval = await retrieve(caps, input.question, previousQuestion(history, input.messageId));
  ctx.signal.throwIfAborted();
  const writer = new AnswerWriter(ctx.log, (write, text) => caps.writeAnswer(input.messageId, write, text));
  try {
    const llm = settings.llm;
    const { answerer, citations } =
      llm && retrieval.passages.length > 0
        ? { answerer: 'llm' as const, citations: await answerWithModel(llm, retrieval, earlierTurns(history, input.messageId), writer, ctx.signal) }
        : { answerer: 'retrieval' as const, citations: await answerFromPassages(retrieval, writer, ctx.signal) };
    await writer.finish();
    return { messageId: input.messageId, answerer, sources: citations.map((c) => c.url), chars: writer.text.length };
  } finally {
    writer.close();
  }
}

/** Streams the composed answer in pieces of a few words, honouring the signal between pieces. */
async function answerFromPassages(retrieval: Retrieval, writer: AnswerWriter, signal: AbortSignal): Promise<Citation[]> {
  const composed = composeAnswer(retrieval.question, retrieval.passages, retrieval.previousQuestion);
  const parts = pieces(composed.text);
  let done = 0;
  for (const part of parts) {
    // Let a cancel request (or anything else waiting) in between pieces.
    await nextTurn(signal);
    done += part.length;
    await writer.push(part, { stage: 'answering', percent: Math.floor((99 * done) / composed.text.length) });
  }
  return composed.citations;
}

/** Streams the model's tokens, then the list of the sources it cited (all offered ones when it cited none). */
async function answerWithModel(
  settings: LlmSettings,
  retrieval: Retrieval,
  history: ChatMessage[],
  writer: AnswerWriter,
  signal: AbortSignal,
): Promise<Citation[]> {
  const offered = citationsOf(retrieval.passages);
  const prompt = buildPrompt(retrieval.question, retrieval.passages, offered, history);
  for await (const token of streamCompletion(settings, prompt, signal)) {
    await writer.push(token, { stage: 'answering' });
  }
  signal.throwIfAborted();
  if (!writer.text.trim()) {
    await writer.push(notFoundAnswer(retrieval.question));
    return [];
  }
  const cited = offered.filter((c) => writer.text.includes(`[${c.n}]`));
  const sources = cited.length > 0 ? cited : offered;
  await writer.push(`\n\n${sourcesBlock(sources)}`);
  return sources;
}

/** The conversation before this answer's question (the question itself goes with the sources). */
function earlierTurns(history: readonly ChatMessage[], messageId: string): ChatMessage[] {
  const own = history.findIndex((m) => m.id === messageId);
  const before = own === -1 ? [...history] : history.slice(0, own);
  if (before.at(-1)?.role === 'user') before.pop();
  return before.filter((m) => m.role === 'user' || m.status === 'SUCCEEDED');
}
