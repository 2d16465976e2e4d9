// The poll loop's goal-version handshake, against a scripted hub on 127.0.0.1 (a real hub cannot play an old one).
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PollLoop } from './poll-loop';
import { HubClient } from './hub-client';
import { createAgentLogger, type AgentLogger } from './log';

interface Seen { wait: number; desiredVersion?: string; ran?: number }

async function scriptedHub(answer: (n: number) => Record<string, unknown>) {
  const seen: Seen[] = [];
  /** Ids of the commands whose results were posted. */
  const results: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const result = /^\/v1\/agent\/commands\/([^/]+)\/result$/.exec(req.url ?? '');
      if (result) {
        results.push(decodeURIComponent(result[1]!));
        res.end('{}');
        return;
      }
      const b = JSON.parse(body);
      seen.push({ wait: b.wait, ...('desiredVersion' in b ? { desiredVersion: b.desiredVersion } : {}), ...(b.state?.ran !== undefined ? { ran: b.state.ran } : {}) });
      // `holdMs`: answered that much later, like a long poll with nothing new (unless the agent cuts it short).
      // `raw`: sent as it is instead of a poll answer (something else answering at the hub's address).
      const { holdMs = 0, raw, ...fields } = answer(seen.length);
      const reply = raw !== undefined ? String(raw) : JSON.stringify({ serverId: 's1', hubTime: Date.now(), commands: [], desired: { jobs: [] }, settings: {}, ...fields });
      const timer = setTimeout(() => res.end(reply), Number(holdMs));
      res.on('close', () => clearTimeout(timer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, results, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) };
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

const noop = (id: string) => ({ id, kind: 'noop', payload: null, createdAt: new Date().toISOString() });

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function startLoop(hub: Awaited<ReturnType<typeof scriptedHub>>, opts: {
  onResponse?: () => Promise<void>; onCommand?: () => Promise<void>; collect?: () => Record<string, unknown>; onReceived?: (res: { desiredVersion?: string }) => void;
  log?: AgentLogger;
}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-poll-'));
  cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const loop = new PollLoop({
    client: new HubClient(hub.url, 'credential'), dataDir, pollWaitSec: 20, log: opts.log ?? createAgentLogger('silent'),
    handlers: new Map([['noop', async () => { await opts.onCommand?.(); return null; }]]),
    collect: () => ({ state: opts.collect?.() ?? {}, jobs: [] }), onResponse: opts.onResponse, onReceived: opts.onReceived,
  });
  await loop.start();
  cleanup.push(() => loop.stop());
  return loop;
}

describe('PollLoop against something else than a hub', () => {
  it('an answer that is not a poll answer (a proxy\'s page, a broken body) is a clear warning and a retry', async () => {
    const hub = await scriptedHub((n) => (n === 1 ? { raw: '<html>502 Bad Gateway</html>' } : n === 2 ? { raw: '{"serverId": 5}' } : { desiredVersion: 'v1' }));
    cleanup.push(hub.close);
    const warnings: string[] = [];
    const log = { ...createAgentLogger('silent'), warn: (o: { err?: string }) => { warnings.push(String(o?.err)); }, info() {}, error() {}, debug() {} } as unknown as AgentLogger;
    const applied: unknown[] = [];
    await startLoop(hub, { log, onResponse: async () => { applied.push('goal'); } });
    await until('a good answer applied', () => applied.length > 0, 15_000);
    // The two bad answers came first and were retried; only the good one was applied.
    expect(hub.seen.length).toBeGreaterThanOrEqual(3);
    expect(warnings[0]).toMatch(/not a Tandem poll answer \(body: .*check the hub URL/);
  }, 20_000);
});

describe('PollLoop while goal states and commands take time', () => {
  it('keeps polling while a goal state is being applied (a job start statting its whole set), and runs its commands after it, once', async () => {
    const hub = await scriptedHub(() => ({ desiredVersion: 'v1', commands: hub.results.includes('c1') ? [] : [noop('c1')] }));
    cleanup.push(hub.close);
    const order: string[] = [];
    let release!: () => void;
    const applying = new Promise<void>((r) => { release = r; });
    await startLoop(hub, {
      onResponse: async () => { order.push('apply'); if (order.length === 1) await applying; },
      onCommand: async () => { order.push('command'); },
    });
    // The hub hears from the agent again while the first goal is still being applied (it would mark it offline).
    await until('a second poll during the apply', () => hub.seen.length >= 2);
    expect(order).toEqual(['apply']);
    release();
    await until('the command result', () => hub.results.includes('c1'));
    await new Promise((r) => setTimeout(r, 200));
    // Delivered again on every poll until answered: run once, after the goal it came with.
    expect(order.filter((o) => o === 'command')).toEqual(['command']);
    expect(order.indexOf('command')).toBeGreaterThan(0);
  });

  it('hears of a new goal state when it arrives, though it waits behind the one being applied (its new jobs say starting)', async () => {
    const hub = await scriptedHub((n) => ({ desiredVersion: n === 1 ? 'v1' : 'v2' }));
    cleanup.push(hub.close);
    let release!: () => void;
    const applying = new Promise<void>((r) => { release = r; });
    const received: string[] = [];
    let applied = 0;
    await startLoop(hub, {
      onResponse: async () => { applied++; if (applied === 1) await applying; },
      onReceived: (res) => received.push(res.desiredVersion ?? ''),
    });
    cleanup.push(() => release()); // runs first: a failed expectation must not leave the loop blocked
    await until('the second goal received', () => received.length >= 2);
    expect(received.slice(0, 2)).toEqual(['v1', 'v2']);
    expect(applied).toBe(1); // v2 waits its turn
    release();
    await until('v2 applied', () => applied >= 2);
  });

  it('while a command it was sent is still running, polls about once a second instead of in a tight loop', async () => {
    const hub = await scriptedHub(() => ({ desiredVersion: 'v1', commands: [noop('slow')] }));
    cleanup.push(hub.close);
    let release!: () => void;
    const running = new Promise<void>((r) => { release = r; });
    await startLoop(hub, { onCommand: () => running });
    await new Promise((r) => setTimeout(r, 1500));
    const polls = hub.seen.length;
    release();
    // The scripted hub answers at once (as a real one does while a command is unanswered): without the pause, hundreds.
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(4);
  });

  it('reports what a command changed at once, cutting short the long poll under way', async () => {
    // The first poll brings the command; every later one is held 30 s, as a hub with nothing new does.
    const hub = await scriptedHub((n) => (n === 1 ? { desiredVersion: 'v1', commands: [noop('c1')] } : { desiredVersion: 'v1', holdMs: 30_000 }));
    cleanup.push(hub.close);
    let ran = 0;
    let release!: () => void;
    const running = new Promise<void>((r) => { release = r; });
    await startLoop(hub, { onCommand: async () => { await running; ran++; }, collect: () => ({ ran }) });
    await until('a long poll while the command runs', () => hub.seen.length >= 2);
    release();
    await until('the command result', () => hub.results.includes('c1'));
    await until('a poll reporting the command\'s effect', () => hub.seen.some((s) => s.ran === 1), 3000);
  });

  it('polls a hub that answers at once with nothing new (Workers) every few seconds, not in a tight loop', async () => {
    const hub = await scriptedHub(() => ({ desiredVersion: 'v1', waitSec: 0 }));
    cleanup.push(hub.close);
    await startLoop(hub, {});
    await new Promise((r) => setTimeout(r, 1500));
    // The first poll (no wait) and the one naming v1; then nothing for a while (a tight loop: hundreds).
    expect(hub.seen.length).toBe(2);
  });

  it('polls again at once when a hub that holds polls answers early with nothing new (it was woken for another reason)', async () => {
    const hub = await scriptedHub(() => ({ desiredVersion: 'v1', waitSec: 20 }));
    cleanup.push(hub.close);
    await startLoop(hub, {});
    await until('more polls', () => hub.seen.length >= 5, 2000);
  });

  it('a goal state that fails to apply is asked for again, and its commands wait for it', async () => {
    const hub = await scriptedHub(() => ({ desiredVersion: 'v1', commands: hub.results.includes('c1') ? [] : [noop('c1')] }));
    cleanup.push(hub.close);
    let applies = 0;
    let appliedWhenCommandRan = -1;
    await startLoop(hub, {
      onResponse: async () => { applies++; if (applies === 1) throw new Error('disk full'); },
      onCommand: async () => { appliedWhenCommandRan = applies; },
    });
    await until('the command result', () => hub.results.includes('c1'));
    expect(hub.seen.some((s) => s.desiredVersion === 'unapplied')).toBe(true);
    expect(appliedWhenCommandRan).toBeGreaterThanOrEqual(2);
  });
});
