// The replicator's ordering against mirror batches, with a stand-in for the peer that records what is sent when.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Replicator } from './replicator';
import type { PeerClient } from '../peer/client';
import { SharedLimit } from '../peer/bandwidth';

const dirs: string[] = [];
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A peer whose replicate requests take `ms` each and acknowledge everything they carried. */
function slowPeer(ms: number, events: string[]) {
  let seq = 0;
  return {
    limit: new SharedLimit(),
    async stream(_url: string, frames: AsyncIterable<Buffer>) {
      for await (const _ of frames) seq++; // one frame per op here (small ops, no coalescing)
      events.push('request start');
      await sleep(ms);
      events.push('request end');
      return { ackedSeq: seq, blocked: null };
    },
  } as unknown as PeerClient;
}

async function replicator(events: string[]) {
  const dataDir = await mkdtemp(join(tmpdir(), 'tandem-replicator-'));
  dirs.push(dataDir);
  const peer = slowPeer(150, events);
  const r = new Replicator({
    jobId: 'job1', dataDir, limits: {}, compression: 0, peer: () => peer, log: pino({ level: 'silent' }),
    onChange: () => {}, onExhausted: () => {},
  });
  await r.open();
  return r;
}

const op = (n: number) => [{ op: { op: 'delete' as const, path: `/src/f${n}` } }];

describe('Replicator.holdDuring (a mirror batch being read and sent)', () => {
  it('waits for the request on its way, and sends nothing more until the batch is done', async () => {
    const events: string[] = [];
    const r = await replicator(events);
    r.start();
    await r.enqueue(op(1));
    while (!events.includes('request start')) await sleep(5);
    await r.holdDuring(async () => {
      events.push('batch start');
      await r.enqueue(op(2)); // a change made while the batch reads the files
      await sleep(300);
      events.push('batch end');
    });
    while (r.queueStats().ackedSeq < r.queueStats().lastSeq) await sleep(10);
    await r.stop();
    await r.close();
    expect(events).toEqual(['request start', 'request end', 'batch start', 'batch end', 'request start', 'request end']);
  });
});
