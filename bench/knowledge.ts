// bench:knowledge — how well the knowledge base answers questions about a real site. Crawls the
// PostgreSQL manual (served from disk by bench/crawl-real-site.ts, in its own process) into a fresh
// Sluice app, then asks each question of bench/knowledge-questions.json (written before any tuning,
// each with the page(s) that answer it): searchKnowledge gives hit@1, hit@3 and MRR over the first
// 10 hits; the chat answer (the built-in answerer, no LLM) counts when its sources cite a right page.
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from '../server/app.ts';
import { tempDir } from '../test/helpers/stores.ts';
import { closeHttp, postGraphql } from './lib.ts';

const MANUAL = '/usr/share/doc/postgresql-doc-15/html';
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const { questions } = JSON.parse(readFileSync(here('knowledge-questions.json'), 'utf8')) as { questions: { q: string; pages: string[] }[] };
const verbose = process.argv.includes('--verbose');

interface Hit {
  url: string;
  title: string;
  heading: string | null;
  snippet: string;
}

const matches = (url: string, pages: string[]) => pages.some((p) => new URL(url).pathname.endsWith(`/${p}`));

async function waitFor(url: string, id: string): Promise<string> {
  for (;;) {
    const r = await postGraphql<{ execution: { status: string } }>(url, 'query($id: ID!) { execution(id: $id) { status } }', { id });
    const status = r.data?.execution.status ?? 'UNKNOWN';
    if (['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'].includes(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  if (!existsSync(`${MANUAL}/index.html`)) throw new Error(`${MANUAL} is missing: run npm run bench:crawl-real once (it installs postgresql-doc-15)`);
  const site = fork(here('crawl-real-site.ts'), [MANUAL], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const siteUrl = await new Promise<string>((resolve) => site.once('message', (m) => resolve((m as { url: string }).url)));
  const dir = tempDir('sluice-knowledge-');
  const app = createApp({ port: 0, dataDir: dir.path, allowPrivateNetworks: true, logLevel: 'silent' });
  const { url } = await app.start();
  try {
    const started = Date.now();
    const crawl = await postGraphql<{ startCrawl: { id: string } }>(url, 'mutation($input: StartCrawlInput!) { startCrawl(input: $input) { id } }', {
      input: { url: `${siteUrl}/index.html`, maxPages: 2000, maxDepth: 20, respectRobotsTxt: false },
    });
    const status = await waitFor(url, crawl.data!.startCrawl.id);
    const sources = await postGraphql<{ knowledgeSources: { pages: number; chunks: number }[] }>(url, '{ knowledgeSources { pages chunks } }', {});
    const { pages, chunks } = sources.data!.knowledgeSources[0] ?? { pages: 0, chunks: 0 };
    console.log(`bench:knowledge  the PostgreSQL manual: crawl ${status} in ${((Date.now() - started) / 1000).toFixed(1)} s, ${pages} pages, ${chunks} passages; ${questions.length} questions`);

    let hit1 = 0;
    let hit3 = 0;
    let mrr = 0;
    let cited = 0;
    for (const { q, pages: right } of questions) {
      const r = await postGraphql<{ searchKnowledge: Hit[] }>(url, 'query($q: String!) { searchKnowledge(query: $q, limit: 10) { url title heading snippet } }', { q });
      const hits = r.data?.searchKnowledge ?? [];
      const rank = hits.findIndex((h) => matches(h.url, right)) + 1;
      if (rank === 1) hit1++;
      if (rank >= 1 && rank <= 3) hit3++;
      if (rank >= 1) mrr += 1 / rank;

      const sent = await postGraphql<{ sendChatMessage: { id: string; sessionId: string } }>(url, 'mutation($input: SendChatMessageInput!) { sendChatMessage(input: $input) { id sessionId } }', { input: { text: q } });
      await waitFor(url, sent.data!.sendChatMessage.id);
      const session = await postGraphql<{ chatSession: { messages: { role: string; text: string }[] } }>(url, 'query($id: ID!) { chatSession(id: $id) { messages { role text } } }', {
        id: sent.data!.sendChatMessage.sessionId,
      });
      const answer = session.data?.chatSession.messages.find((m) => m.role === 'assistant')?.text ?? '';
      const citedUrls = [...(answer.split(/\nSources:\n/)[1] ?? '').matchAll(/https?:\/\/\S+/g)].map((m) => m[0]);
      const ok = citedUrls.some((u) => matches(u, right));
      if (ok) cited++;
      const top = hits.slice(0, 3).map((h) => new URL(h.url).pathname.slice(1)).join(', ');
      console.log(`${rank === 1 ? 'hit@1' : rank && rank <= 3 ? 'hit@3' : rank ? `rank ${rank}` : 'miss '}  ${ok ? 'cited ' : 'NOT cited'}  ${q}  (want ${right[0]}; top: ${top})`);
      if (verbose) console.log(`  top hit: ${hits[0]?.heading ?? ''} | ${hits[0]?.snippet ?? ''}\n  answer: ${answer.replace(/\n/g, '\n    ')}`);
    }
    const n = questions.length;
    const pct = (k: number) => `${((100 * k) / n).toFixed(0)}%`;
    console.log('');
    console.log(`searchKnowledge  hit@1 ${pct(hit1)} (${hit1}/${n})  hit@3 ${pct(hit3)} (${hit3}/${n})  MRR ${(mrr / n).toFixed(3)}`);
    console.log(`chat answer      cites a right page ${pct(cited)} (${cited}/${n})`);
    const met = hit3 / n >= 0.9 && cited / n >= 0.9;
    console.log(`target   hit@3 >= 90% and right page cited >= 90%: ${met ? 'met' : 'MISSED'}`);
    if (!met) process.exitCode = 1;
  } finally {
    closeHttp();
    await app.stop();
    dir.remove();
    site.send('close');
  }
}

await main();
