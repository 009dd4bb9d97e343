// A slow OpenAI-compatible chat completions endpoint for the browser tests: it streams a fixed
// answer word by word (server-sent events), so a test can watch an answer arrive and stop it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowLlm {
  /** Base URL to give the server as llmBaseUrl (…/v1). */
  url: string;
  /** Streams currently open (a stopped answer closes its stream). */
  openStreams(): number;
  close(): Promise<void>;
}

export const LLM_ANSWER_WORDS = 40;

/** Starts the endpoint on 127.0.0.1; every answer is LLM_ANSWER_WORDS words, one each `delayMs`. */
export async function startSlowLlm(delayMs = 100): Promise<SlowLlm> {
  let open = 0;
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    req.resume();
    open++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let word = 0;
    const timer = setInterval(() => {
      word++;
      const content = word === 1 ? 'Sluice gates [1] control the flow' : ` word${word}`;
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content } }] })}\n\n`);
      if (word >= LLM_ANSWER_WORDS) {
        res.end('data: [DONE]\n\n');
        clearInterval(timer);
      }
    }, delayMs);
    res.on('close', () => {
      clearInterval(timer);
      open--;
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    openStreams: () => open,
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
