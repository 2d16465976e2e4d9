import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PathJournal } from './path-journal';

const dirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-journal-'));
  dirs.push(d);
  return d;
};
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });

describe('PathJournal', () => {
  it('names the paths of the operations after a seq, across a reopen (what a crashed agent left)', () => {
    const dir = tempDir();
    const j = PathJournal.open(dir);
    j.record(1, ['/data/a']);
    j.record(2, ['/data/b', '/data/old name']);
    j.record(3, ['/data/line\nbreak']);
    j.flush();
    // no close: the process died
    const again = PathJournal.open(dir);
    expect(again.pathsAfter(1).paths.sort()).toEqual(['/data/b', '/data/line\nbreak', '/data/old name']);
    expect(again.pathsAfter(3)).toEqual({ paths: [], complete: true });
  });

  it('keeps nothing on disk until flushed, and what was recorded is still listed', () => {
    const dir = tempDir();
    const j = PathJournal.open(dir);
    j.record(1, ['/x']);
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual([]);
    expect(j.pathsAfter(0).paths).toEqual(['/x']);
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual(['/x']);
  });

  it('drops operations acknowledged and indexed, segment by segment, and empties the one being written once all of it is', () => {
    const dir = tempDir();
    const j = PathJournal.open(dir, 64);
    for (let seq = 1; seq <= 12; seq++) {
      j.record(seq, [`/data/file-${seq}`]);
      j.flush();
    }
    const segments = () => fs.readdirSync(dir).length;
    const before = segments();
    expect(before).toBeGreaterThan(2);
    j.indexed(12);
    j.acknowledged(6);
    expect(segments()).toBeLessThan(before);
    // Whole segments go: the one holding seq 6 may still list a few before it, never one older.
    const left = j.pathsAfter(0).paths;
    expect(left).toEqual(expect.arrayContaining(Array.from({ length: 6 }, (_, i) => `/data/file-${i + 7}`)));
    expect(left).not.toContain('/data/file-1');
    expect(j.pathsAfter(6).paths.sort()).toEqual(Array.from({ length: 6 }, (_, i) => `/data/file-${i + 7}`).sort());
    j.acknowledged(12);
    expect(j.pathsAfter(0).paths).toEqual([]);
    j.record(13, ['/data/later']);
    j.flush();
    expect(PathJournal.open(dir).pathsAfter(12).paths).toEqual(['/data/later']);
  });

  it('drops nothing while pinned', () => {
    const dir = tempDir();
    const j = PathJournal.open(dir);
    j.record(1, ['/a']);
    j.flush();
    j.pin();
    j.indexed(5);
    j.acknowledged(5);
    expect(j.pathsAfter(0).paths).toEqual(['/a']);
    j.unpin();
    expect(j.pathsAfter(0).paths).toEqual([]);
  });

  it('keeps acknowledged operations until the capture index is committed with them, and the reverse', () => {
    // The index is committed about once a second: a kill before that leaves an index older than the target, and
    // only the journal still names what the acknowledged operations created.
    const dir = tempDir();
    const j = PathJournal.open(dir);
    j.record(1, ['/a']);
    j.record(2, ['/b']);
    j.flush();
    j.acknowledged(2);
    expect(PathJournal.open(dir).pathsAfter(0).paths.sort()).toEqual(['/a', '/b']);
    j.indexed(1);
    expect(PathJournal.open(dir).pathsAfter(0).paths.sort()).toEqual(['/a', '/b']); // the segment holds seq 2 still
    j.indexed(2);
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual([]);
    j.record(3, ['/c']);
    j.flush();
    j.indexed(3);
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual(['/c']); // indexed, not yet acknowledged
    j.acknowledged(3);
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual([]);
  });

  it('skips a torn last line and lines that are not entries', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, '0000000000000001.paths'), '[1,"/ok"]\n{"seq":2}\n[2,"/torn');
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual(['/ok']);
  });

  it('reports a list cut short at its limit as incomplete', () => {
    const j = PathJournal.open(tempDir());
    for (let seq = 1; seq <= 5; seq++) j.record(seq, [`/p${seq}`]);
    expect(j.pathsAfter(0, 3)).toMatchObject({ complete: false });
    expect(j.pathsAfter(0, 3).paths).toHaveLength(3);
  });

  it('clear forgets everything', () => {
    const dir = tempDir();
    const j = PathJournal.open(dir);
    j.record(1, ['/a']);
    j.flush();
    j.clear();
    expect(PathJournal.open(dir).pathsAfter(0).paths).toEqual([]);
  });
});
