// Child process of bench:crawl-real: serves a folder of HTML (the PostgreSQL manual) with a plain
// static file server (sirv) on 127.0.0.1, in its own process so its CPU is neither counted against
// nor taken from the crawler under test. Answers "stats" with the requests since the last "stats".
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';

const root = process.argv[2] ?? '/usr/share/doc/postgresql-doc-15/html';
const serve = sirv(root, { dev: false, etag: true, extensions: ['html'] });
let requests = 0;
const paths = new Set<string>();
let cpuFrom = process.cpuUsage();
const server = http.createServer((req, res) => {
  requests++;
  paths.add(req.url ?? '');
  serve(req, res, () => {
    res.statusCode = 404;
    res.end('not found');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send!({ url: `http://127.0.0.1:${port}` });
});

process.on('message', (message) => {
  if (message === 'stats') {
    const cpu = process.cpuUsage(cpuFrom);
    cpuFrom = process.cpuUsage();
    process.send!({ requests, distinctPages: paths.size, cpuMs: (cpu.user + cpu.system) / 1000 });
    requests = 0;
    paths.clear();
  } else if (message === 'close') {
    server.close(() => process.disconnect());
    server.closeAllConnections();
  }
});
