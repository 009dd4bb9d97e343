// A real site whose /robots.txt is held until the test lets it answer: a crawl waits on it at its
// first request, so a test can cut its node off meanwhile and see the request given up (the abort).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deferCleanup } from './cleanup.ts';

export interface HeldRobotsSite {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  /** Resolves when /robots.txt is requested. */
  robotsAsked: Promise<void>;
  /** Resolves when the client gives the held /robots.txt up before it was answered. */
  robotsAbandoned: Promise<void>;
  /** Lets /robots.txt answer (allow everything). */
  answerRobots(): void;
}

/** The site (every other path is a small page linking to /a), closed after the current test. */
export async function heldRobotsSite(): Promise<HeldRobotsSite> {
  const requests: string[] = [];
  let asked!: () => void;
  const robotsAsked = new Promise<void>((resolve) => (asked = resolve));
  let abandoned!: () => void;
  const robotsAbandoned = new Promise<void>((resolve) => (abandoned = resolve));
  let answer!: () => void;
  const robotsAnswered = new Promise<void>((resolve) => (answer = resolve));
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/robots.txt') {
      asked();
      res.on('close', () => {
        if (!res.writableFinished) abandoned();
      });
      void robotsAnswered.then(() => {
        if (!res.destroyed) res.end('User-agent: *\nAllow: /\n');
      });
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end(`<html><body><h1>${req.url}</h1><p>text</p><a href="/a">a</a></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  deferCleanup(async () => {
    answer();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, robotsAsked, robotsAbandoned, answerRobots: answer };
}
