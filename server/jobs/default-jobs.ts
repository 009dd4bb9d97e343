import type { Job } from '../engine/job.ts';
import type { Store } from '../store/store.ts';
import { chatJob, type ChatSettings } from './chat/chat-job.ts';
import { crawlJob } from './crawl/crawl-job.ts';
import type { PageProcessor } from './crawl/page-pool.ts';

const USER_AGENT = 'SluiceBot/0.1 (+https://github.com/sluice)';

/**
 * The job kinds a server runs unless told otherwise: crawl and chat, with the capabilities each
 * declared built from the store. Their writes go through the attempt's writer, so they are fenced
 * and ordered with the job's own.
 */
export function defaultJobs(
  store: Store,
  settings: {
    allowPrivateNetworks: boolean;
    pages?: PageProcessor;
    /** The store splits pages into chunks where it writes them (see CrawlSettings.chunkWhereStored). */
    chunkWhereStored?: boolean;
    /** Called as each crawl attempt starts (see AppOptions.warmThreads). */
    crawlStarting?: () => void;
  } & ChatSettings,
): Job[] {
  const crawlSettings = { allowPrivateNetworks: settings.allowPrivateNetworks, userAgent: USER_AGENT, pages: settings.pages, chunkWhereStored: settings.chunkWhereStored };
  const crawl = crawlJob(crawlSettings, (attempt) => {
    settings.crawlStarting?.();
    return {
      storePage: async (page, write, whenStored) => {
        const { pageStored } = await attempt.write(write, (fence, w) => store.write(fence, { ...w, page, whenStored }));
        return pageStored !== false;
      },
      // one fenced write of the attempt for the whole group, so it is ordered and refused as one
      storePages: async (items) => {
        const writes = items.map(({ page, write, whenStored }) => ({ ...write, page, whenStored }));
        const { change, pagesStored } = await attempt.write(writes[0]!, (fence, first) => store.writeMany(fence, [{ ...writes[0]!, ...first }, ...writes.slice(1)]));
        return { stored: pagesStored.map((stored) => stored !== false), chunksStored: change?.execution.progress.chunksStored ?? null };
      },
    };
  });
  const chat = chatJob({ llm: settings.llm }, (attempt) => ({
    searchKnowledge: (query, limit, options) => store.knowledge.search(query, limit, options),
    recentMessages: (sessionId, n) => store.chat.listMessages(sessionId, n),
    writeAnswer: async (messageId, write, text) => {
      await attempt.write(write, (fence, w) => store.write(fence, text === null ? w : { ...w, message: { id: messageId, text } }));
    },
  }));
  return [crawl, chat];
}
