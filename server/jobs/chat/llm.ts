import type { ChatMessage } from '../../store/knowledge-records.ts';
import type { Citation } from './compose.ts';
import type { Passage } from './retrieval.ts';

/** An OpenAI-compatible chat completions endpoint (SLUICE_LLM_BASE_URL, e.g. https://api.openai.com/v1). */
export interface LlmSettings {
  baseUrl: string;
  model: string;
  apiKey: string | null;
}

export interface LlmMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const SYSTEM_PROMPT =
  'You answer questions using only the numbered sources from a knowledge base. ' +
  'Cite the sources you use inline as [n]. If the sources do not contain the answer, say that you could not find it ' +
  'in the knowledge base; never invent facts. Answer concisely in the language of the question.';
const HISTORY_CHARS = 1000;
const ERROR_BODY_CHARS = 300;

/** Numbers the pages of the passages ([1], [2], ... by URL, in order of relevance). */
export function citationsOf(passages: readonly Passage[]): Citation[] {
  const out: Citation[] = [];
  for (const p of passages) if (!out.some((c) => c.url === p.url)) out.push({ n: out.length + 1, url: p.url, title: p.title });
  return out;
}

/** The chat messages for the model: instructions, the recent conversation, then the sources and the question. */
export function buildPrompt(
  question: string,
  passages: readonly Passage[],
  citations: readonly Citation[],
  history: readonly ChatMessage[],
): LlmMessage[] {
  const sources = citations.map((c) => {
    const texts = passages.filter((p) => p.url === c.url).map((p) => (p.heading ? `(${p.heading})\n${p.text}` : p.text));
    return `[${c.n}] ${c.title} (${c.url})\n${texts.join('\n\n')}`;
  });
  const earlier = history
    .filter((m) => m.text.trim())
    // An earlier answer's own numbered sources would clash with this prompt's numbering.
    .map((m): LlmMessage => ({ role: m.role, content: m.text.split('\n\nSources:\n')[0]!.slice(0, HISTORY_CHARS) }));
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    ...earlier,
    { role: 'user', content: `Sources:\n\n${sources.join('\n\n')}\n\nQuestion: ${question}` },
  ];
}

/**
 * Streams the tokens of a chat completion (`stream: true`, server-sent events). The signal goes to
 * fetch, so a cancel closes the connection at once, also while waiting for the next token.
 */
export async function* streamCompletion(
  settings: LlmSettings,
  messages: readonly LlmMessage[],
  signal: AbortSignal,
): AsyncGenerator<string> {
  const url = `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
    },
    body: JSON.stringify({ model: settings.model, messages, stream: true }),
    signal,
  });
  if (!response.ok || !response.body) {
    const body = (await response.text().catch(() => '')).slice(0, ERROR_BODY_CHARS);
    throw new Error(`the language model at ${url} answered HTTP ${response.status}${body ? `: ${body}` : ''}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for await (const data of sseData(reader)) {
      if (data === '[DONE]') return;
      const token = deltaOf(data);
      if (token) yield token;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The data of each server-sent event (multi-line data joined by \n), per the EventSource format. */
async function* sseData(reader: ReadableStreamDefaultReader<string>): AsyncGenerator<string> {
  let buffer = '';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
  }
  if (data.length) yield data.join('\n');
}

function deltaOf(data: string): string {
  let chunk: { choices?: { delta?: { content?: unknown } }[]; error?: { message?: unknown } };
  try {
    chunk = JSON.parse(data) as typeof chunk;
  } catch {
    throw new Error(`the language model sent an event that is not JSON: ${data.slice(0, ERROR_BODY_CHARS)}`);
  }
  if (chunk.error) throw new Error(`the language model reported an error: ${String(chunk.error.message ?? 'unknown')}`);
  const content = chunk.choices?.[0]?.delta?.content;
  return typeof content === 'string' ? content : '';
}
