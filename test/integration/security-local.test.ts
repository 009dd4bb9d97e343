// Without tokens a server is open only to local callers: loopback HOST only, no other Host or
// Origin, and it refuses to start anywhere else until tokens are configured.
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp } from '../../server/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { deferCleanup } from '../helpers/cleanup.ts';
import { tempDir } from '../helpers/stores.ts';
import { suiteResources } from '../helpers/suite-resources.ts';

describe('open to local callers only', () => {
  const resources = suiteResources();
  let local: TestApp;
  beforeAll(async () => {
    local = await resources.app();
  });

  it('without tokens a loopback server is open, and records "local"', async () => {
    const res = await local.gql(`{ activeExecutions { id } }`);
    expect(res.data).toEqual({ activeExecutions: [] });
  });

  it('refuses requests addressed to another name (DNS rebinding) and pages of other sites', async () => {
    const port = new URL(local.url).port;
    const send = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ query: `mutation { startCrawl(input: { url: "ftp://refused.example/" }) { id } }` });
        const req = httpRequest({ host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    expect(await send({ host: `attacker.example:${port}` })).toBe(403);
    expect(await send({ host: `127.0.0.1:${port}`, origin: 'https://attacker.example' })).toBe(403);
    expect(await send({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).toBe(200);
    const executions = await local.gql(`{ executions { id } }`);
    expect(executions.data).toEqual({ executions: [] });
  });

  it('refuses WebSocket upgrades addressed to another name', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${local.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers: { host: 'attacker.example' } });
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => reject(new Error('opened')));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });

  it.each(['0.0.0.0', '::', '192.0.2.10'])('refuses to start on HOST=%s without tokens, saying how to configure them', (host) => {
    const dir = tempDir();
    deferCleanup(() => dir.remove());
    expect(() => createApp({ host, dataDir: dir.path, logLevel: 'silent' })).toThrow(/SLUICE_API_TOKENS.*openssl rand/);
  });
});

// No test can reach the internet, so a loopback address plays the public web server: 127.0.0.2
// counts as public here (the only change to the rules), names resolve through a table, and
// 127.0.0.1 plays the private network behind Sluice. Everything else is the real crawl: real
