import { describe, expect, it } from 'vitest';
import { PathScheduler, opPathsOverlap, tasksConflict } from './path-scheduler';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => { open = r; });
  return { open, opened };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('opPathsOverlap', () => {
  it('is true for the same path and for a path and anything below it', () => {
    expect(opPathsOverlap('/a/b', '/a/b')).toBe(true);
    expect(opPathsOverlap('/a', '/a/b/c')).toBe(true);
    expect(opPathsOverlap('/a/b/c', '/a')).toBe(true);
    expect(opPathsOverlap('/', '/anything')).toBe(true);
  });

  it('is false for siblings and for names that only share a prefix', () => {
    expect(opPathsOverlap('/a/b', '/a/c')).toBe(false);
    expect(opPathsOverlap('/a/b', '/a/bc')).toBe(false);
    expect(opPathsOverlap('/a/bc/d', '/a/b')).toBe(false);
  });

  it('compares every path of a two-path operation (rename, hard link)', () => {
    expect(tasksConflict(['/x/new', '/y/old'], ['/y'])).toBe(true);
    expect(tasksConflict(['/x/new', '/y/old'], ['/z'])).toBe(false);
  });
});

describe('PathScheduler', () => {
  it('runs tasks on unrelated paths at the same time', async () => {
    const s = new PathScheduler({ maxTasks: 8, maxBytes: 1e9 });
    const g = gate();
    const started: string[] = [];
    for (const p of ['/d1/a', '/d2/b', '/d3/c']) {
      await s.submit({ paths: [p], run: async () => { started.push(p); await g.opened; } });
    }
    await tick();
    expect(started).toEqual(['/d1/a', '/d2/b', '/d3/c']);
    g.open();
    await s.drain();
    expect(s.size).toBe(0);
  });

  it('keeps the order of tasks on the same path, and of a directory and what is inside it', async () => {
    const s = new PathScheduler({ maxTasks: 64, maxBytes: 1e9 });
    const log: string[] = [];
    const slow = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
    };
    await s.submit({ paths: ['/d'], run: slow('mkdir /d', 30) });
    await s.submit({ paths: ['/d/f'], run: slow('chunk1 /d/f', 20) });
    await s.submit({ paths: ['/d/f'], run: slow('chunk2 /d/f', 1) });
    await s.submit({ paths: ['/e/g'], run: slow('file /e/g', 1) });
    await s.submit({ paths: ['/d'], run: slow('meta /d', 1) });
    await s.drain();
    const at = (x: string) => log.indexOf(x);
    expect(at('start chunk1 /d/f')).toBeGreaterThan(at('end mkdir /d'));
    expect(at('start chunk2 /d/f')).toBeGreaterThan(at('end chunk1 /d/f'));
    expect(at('start meta /d')).toBeGreaterThan(at('end chunk2 /d/f'));
    // The unrelated file did not wait for the slow directory.
    expect(at('end file /e/g')).toBeLessThan(at('end mkdir /d'));
  });

  it('admits no more than maxTasks at once', async () => {
    const s = new PathScheduler({ maxTasks: 2, maxBytes: 1e9 });
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      await s.submit({
        paths: [`/f${i}`],
        run: async () => { running++; peak = Math.max(peak, running); await tick(); running--; },
      });
      expect(s.size).toBeLessThanOrEqual(2);
    }
    await s.drain();
    expect(peak).toBe(2);
  });

  it('holds at most maxBytes of payload, but always admits a task when idle', async () => {
    const s = new PathScheduler({ maxTasks: 100, maxBytes: 10 });
    const g = gate();
    await s.submit({ paths: ['/a'], bytes: 6, run: () => g.opened });
    let admitted = false;
    const second = s.submit({ paths: ['/b'], bytes: 6, run: async () => {} }).then(() => { admitted = true; });
    await tick();
    expect(admitted).toBe(false);
    expect(s.heldBytes).toBe(6);
    g.open();
    await second;
    await s.drain();
    // Larger than the whole budget: runs alone rather than never.
    await s.submit({ paths: ['/c'], bytes: 50, run: async () => {} });
    await s.drain();
    expect(s.heldBytes).toBe(0);
  });

  it('keeps going after a task fails (the task reports its own error)', async () => {
    const s = new PathScheduler({ maxTasks: 4, maxBytes: 1e9 });
    const ran: string[] = [];
    await s.submit({ paths: ['/x'], run: async () => { throw new Error('boom'); } });
    await s.submit({ paths: ['/x'], run: async () => { ran.push('after'); } });
    await s.drain();
    expect(ran).toEqual(['after']);
  });
});
