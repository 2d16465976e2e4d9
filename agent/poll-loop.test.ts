// The poll loop's goal-version handshake, against a scripted hub on 127.0.0.1 (a real hub cannot play an old one).
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PollLoop } from './poll-loop';
import { HubClient } from './hub-client';
import { createAgentLogger } from './log';

interface Seen { wait: number; desiredVersion?: string }

async function scriptedHub(answer: (n: number) => Record<string, unknown>) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const b = JSON.parse(body);
      seen.push({ wait: b.wait, ...('desiredVersion' in b ? { desiredVersion: b.desiredVersion } : {}) });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ serverId: 's1', hubTime: Date.now(), commands: [], desired: { jobs: [] }, settings: {}, ...answer(seen.length) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function run(answer: (n: number) => Record<string, unknown>, polls: number): Promise<Seen[]> {
  const hub = await scriptedHub(answer);
  cleanup.push(hub.close);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-poll-'));
  cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const loop = new PollLoop({
    client: new HubClient(hub.url, 'credential'), dataDir, pollWaitSec: 20, log: createAgentLogger('silent'),
    handlers: new Map(), collect: () => ({ state: {}, jobs: [] }),
  });
  await loop.start();
  cleanup.push(() => loop.stop());
  const deadline = Date.now() + 5000;
  while (hub.seen.length < polls && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return hub.seen.slice(0, polls);
}

describe('PollLoop goal versions', () => {
  it('asks without waiting first, then names the version it applied on every long poll', async () => {
    const seen = await run((n) => ({ desiredVersion: `v${n}` }), 3);
    expect(seen).toEqual([{ wait: 0 }, { wait: 20, desiredVersion: 'v1' }, { wait: 20, desiredVersion: 'v2' }]);
  });

  it('never sends the field to a hub that does not name versions (it would refuse an unknown field)', async () => {
    const seen = await run(() => ({}), 3);
    expect(seen).toEqual([{ wait: 0 }, { wait: 20 }, { wait: 20 }]);
  });
});
