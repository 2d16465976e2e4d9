import fss from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CanaryTracker, OverflowSentinel } from './overflow-sentinel';
import { burstWhileBlocked, MAX_QUEUED_EVENTS, QUEUE_FILLABLE } from '../../../test/support/inotify-queue';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CanaryTracker', () => {
  it('canaries arriving in order, with their removals reported too, are no loss', () => {
    const t = new CanaryTracker();
    const a = t.next();
    expect(t.seen(a)).toBe(false);
    const b = t.next();
    expect(t.seen(b)).toBe(false);
    expect(t.seen(a)).toBe(false); // a's removal
    expect(t.seen(t.next())).toBe(false);
  });

  it('a canary skipped while a later one arrives is a loss, once', () => {
    const t = new CanaryTracker();
    expect(t.seen(t.next())).toBe(false);
    t.next(); // dropped by a full queue
    const c = t.next();
    expect(t.seen(c)).toBe(true);
    expect(t.seen(t.next())).toBe(false);
  });

  it('the first canary lost is a loss too; names it never issued are ignored', () => {
    const t = new CanaryTracker();
    t.next();
    expect(t.seen('7')).toBe(false);
    expect(t.seen('other-file')).toBe(false);
    expect(t.seen(null)).toBe(false);
    expect(t.seen(t.next())).toBe(true);
  });
});

describe('OverflowSentinel (real inotify)', () => {
  const dirs: string[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) c();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function watchedDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'tandem-sentinel-'));
    dirs.push(d);
    const w = fss.watch(d, { persistent: false }, () => {});
    cleanups.push(() => w.close());
    return d;
  }

  /** A sentinel with its canary directory in a temp dir of its own, subscribed; `lost()` counts what it heard. */
  async function listening(tickMs: number): Promise<{ s: OverflowSentinel; lost: () => number }> {
    const parent = await mkdtemp(join(tmpdir(), 'tandem-sentinel-parent-'));
    dirs.push(parent);
    const s = new OverflowSentinel({ parentDir: parent, tickMs });
    let lost = 0;
    cleanups.push(s.subscribe(() => lost++));
    return { s, lost: () => lost };
  }

  it('stays quiet while events are read as they come', async () => {
    const { s, lost } = await listening(5);
    const d = await watchedDir();
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 200; j++) s.noteEvent();
      fss.writeFileSync(join(d, `f${i}`), 'x');
      await sleep(10);
    }
    expect(s.failed).toBeNull();
    expect(lost()).toBe(0);
  });

  it.skipIf(!QUEUE_FILLABLE)('hears of an overflow of the kernel queue that fs.watch drops silently', async () => {
    const { lost } = await listening(20);
    const d = await watchedDir();
    await sleep(60);
    expect(lost()).toBe(0);
    burstWhileBlocked(d, MAX_QUEUED_EVENTS + 2000);
    for (let i = 0; i < 50 && lost() === 0; i++) await sleep(20);
    expect(lost()).toBeGreaterThan(0);
  });

  it('removes its canary directory when the last subscriber leaves', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'tandem-sentinel-parent-'));
    dirs.push(parent);
    const s = new OverflowSentinel({ parentDir: parent, tickMs: 5 });
    const off = s.subscribe(() => {});
    await sleep(30);
    expect(fss.readdirSync(parent)).toHaveLength(1);
    off();
    expect(fss.readdirSync(parent)).toHaveLength(0);
  });
});
