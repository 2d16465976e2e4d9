import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapshotSettingsSchema, type SnapshotSettingsInput } from '../../../shared/jobs/failover-settings';
import { lastScheduledAt, snapshotIdFor, SnapshotManager, type SnapshotRun } from './snapshot-manager';

const MIN = 60_000;
const T0 = Date.parse('2025-03-01T03:00:00Z');

let dir: string;
let root: string;
let snaps: string;
let now: number;
const manager = (settings: SnapshotSettingsInput, extra: Partial<ConstructorParameters<typeof SnapshotManager>[0]> = {}) =>
  new SnapshotManager({ root, snapshotsDir: snaps, settings: SnapshotSettingsSchema.parse(settings), now: () => now, ...extra });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tandem-snapmgr-'));
  root = path.join(dir, 'replica');
  snaps = path.join(dir, 'snapshots');
  await mkdir(root);
  await writeFile(path.join(root, 'f.txt'), 'v0');
  now = T0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('snapshotIdFor / lastScheduledAt', () => {
  it('names snapshots by UTC time and disambiguates within a second', () => {
    expect(snapshotIdFor(T0 + 123, new Set())).toBe('20250301T030000Z');
    expect(snapshotIdFor(T0, new Set(['20250301T030000Z', '20250301T030000Z-2']))).toBe('20250301T030000Z-3');
  });

  it('follows only scheduled snapshots', () => {
    const s = (takenAt: number, scheduled: boolean) => ({ id: String(takenAt), takenAt, scheduled, method: 'copy' as const, bytes: 0, path: '' });
    expect(lastScheduledAt([s(1, true), s(5, false), s(3, true)])).toBe(3);
    expect(lastScheduledAt([s(5, false)])).toBeNull();
  });
});

describe('SnapshotManager', () => {
  it('takes scheduled snapshots when due and evicts the oldest beyond keep', async () => {
    const m = manager({ enabled: true, schedule: { intervalMin: 60 }, keep: 2 });
    const first = await m.tick();
    expect(first?.taken).toMatchObject({ ok: true, snapshot: { id: '20250301T030000Z', scheduled: true, takenAt: T0 } });
    expect(first?.evicted).toEqual([]);

    now = T0 + 30 * MIN;
    expect(await m.tick()).toBeNull();
    expect(await m.nextDueAt()).toBe(T0 + 60 * MIN);

    now = T0 + 60 * MIN;
    await writeFile(path.join(root, 'f.txt'), 'v1');
    expect((await m.tick())?.taken.ok).toBe(true);

    now = T0 + 120 * MIN;
    await writeFile(path.join(root, 'f.txt'), 'v2');
    const third = await m.tick();
    expect(third?.evicted).toHaveLength(1);
    expect(third?.evicted[0]).toMatchObject({ ok: true, detail: 'Deleted snapshot 20250301T030000Z.' });

    const listed = await m.list();
    expect(listed.map((s) => s.id)).toEqual(['20250301T040000Z', '20250301T050000Z']);
    expect(await Promise.all(listed.map((s) => readFile(path.join(s.path, 'f.txt'), 'utf8')))).toEqual(['v1', 'v2']);
  });

  it('takes nothing while scheduling is disabled, but manual snapshots still work and count toward keep', async () => {
    const m = manager({ enabled: false, keep: 1 });
    expect(await m.tick()).toBeNull();
    expect(await m.nextDueAt()).toBeNull();
    const a = await m.takeNow();
    expect(a.taken.snapshot).toMatchObject({ scheduled: false });
    now += 1000;
    const b = await m.takeNow();
    expect(b.evicted.map((e) => e.detail)).toEqual([`Deleted snapshot ${a.taken.snapshot!.id}.`]);
    expect((await m.list()).map((s) => s.id)).toEqual([b.taken.snapshot!.id]);
  });

  it('does not let a manual snapshot move the schedule', async () => {
    const m = manager({ enabled: true, schedule: { intervalMin: 60 }, keep: 10 });
    await m.tick();
    now = T0 + 50 * MIN;
    await m.takeNow();
    now = T0 + 60 * MIN;
    expect((await m.tick())?.taken.ok).toBe(true);
  });

  it('waits for beginAt before the first scheduled snapshot', async () => {
    const m = manager({ enabled: true, schedule: { intervalMin: 60, beginAt: '2025-03-01T04:00:00Z' } });
    expect(await m.tick()).toBeNull();
    now = T0 + 60 * MIN;
    expect((await m.tick())?.taken.ok).toBe(true);
  });

  it('holds replication while a snapshot is taken', async () => {
    const events: string[] = [];
    const m = manager({ enabled: false }, {
      quiesce: async () => { events.push('hold'); return () => { events.push('resume'); }; },
    });
    const run = await m.takeNow();
    expect(run.taken.ok).toBe(true);
    expect(events).toEqual(['hold', 'resume']);
  });

  it('runs one operation at a time: a manual snapshot waits for the scheduled one', async () => {
    const m = manager({ enabled: true, schedule: { intervalMin: 60 } });
    const [scheduled, manual] = await Promise.all([m.tick(), m.takeNow()]);
    expect(scheduled?.taken.ok).toBe(true);
    expect(manual.taken.ok).toBe(true);
    expect(manual.taken.snapshot!.id).toBe('20250301T030000Z-2');
  });

  it('start() takes a due snapshot on its own and reports it; stop() ends the loop', async () => {
    let onRun: (run: SnapshotRun) => void = () => {};
    const reported = new Promise<SnapshotRun>((resolve) => { onRun = resolve; });
    const m = manager({ enabled: true, schedule: { intervalMin: 60 } }, { onRun: (run) => onRun(run) });
    m.start();
    expect(await reported).toMatchObject({ taken: { ok: true } });
    m.stop();
    expect(await m.list()).toHaveLength(1);
  });

  it('deleteAll removes every snapshot of the job (job stop)', async () => {
    const m = manager({ enabled: false });
    await m.takeNow();
    now += 1000;
    await m.takeNow();
    const r = await m.deleteAll();
    expect(r.ok).toBe(true);
    await expect(stat(snaps)).rejects.toThrow();
    expect(await m.list()).toEqual([]);
  });

  it('reports a failed snapshot without evicting anything', async () => {
    const m = manager({ enabled: false, keep: 1 });
    await m.takeNow();
    await rm(root, { recursive: true });
    now += 1000;
    const run = await m.takeNow();
    expect(run.taken.ok).toBe(false);
    expect(run.evicted).toEqual([]);
    expect(await readdir(snaps)).toHaveLength(2); // the old snapshot and the index
  });
});
