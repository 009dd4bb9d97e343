// Child process of bench:crawl: serves the 2,000-page fixture site on 127.0.0.1 so that its CPU is
// not counted against (or taken from) the crawler under test. Answers "stats" with the requests
// received since the last "stats" (all of them, and the distinct generated pages among them).
import { startSite } from '../test/fixtures/site.ts';

const pages = Number(process.argv[2] ?? 2000);
const site = await startSite({ pages });
let from = 0;
let cpuFrom = process.cpuUsage();

process.on('message', (message) => {
  if (message === 'stats') {
    const requests = site.requests.slice(from);
    from = site.requests.length;
    const distinctPages = new Set(requests.filter((p) => /^\/(page\/\d+)?$/.test(p))).size;
    const cpu = process.cpuUsage(cpuFrom);
    cpuFrom = process.cpuUsage();
    process.send!({ requests: requests.length, distinctPages, cpuMs: (cpu.user + cpu.system) / 1000 });
  } else if (message === 'close') {
    void site.close().then(() => process.disconnect());
  }
});
process.send!({ url: site.url });
