import { describe, expect, it } from 'vitest';
import { PathScheduler, enclosingPaths, opPathsOverlap, tasksConflict } from './path-scheduler';

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

/** Deterministic pseudo-random numbers (mulberry32), so a failure names a reproducible case. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Paths from a tiny alphabet, so that equal, nested, prefix-sharing, relative and odd ('//', '') paths all occur. */
function randomPath(r: () => number): string {
  const parts = ['a', 'b', 'ab', '', '..'];
  let p = r() < 0.8 ? '/' : '';
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) p += (i ? '/' : '') + parts[Math.floor(r() * parts.length)];
  return p;
}

describe('enclosingPaths', () => {
  it('lists the directories a path is inside', () => {
    expect(enclosingPaths('/a/b/c')).toEqual(['', '/a', '/a/b', '/']);
    expect(enclosingPaths('/')).toEqual(['']);
    expect(enclosingPaths('rel/x')).toEqual(['rel']);
  });

  it('says two paths overlap exactly when opPathsOverlap does (random paths, odd ones included)', () => {
    const r = rng(7);
    for (let i = 0; i < 20_000; i++) {
      const a = randomPath(r);
      const b = randomPath(r);
      const byIndex = a === b || enclosingPaths(a).includes(b) || enclosingPaths(b).includes(a);
      expect(byIndex, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(opPathsOverlap(a, b));
    }
  });
});

describe('PathScheduler', () => {
  it('runs any two conflicting tasks in the order they were submitted, and overlaps the rest (random tasks)', async () => {
    const r = rng(11);
    const s = new PathScheduler({ maxTasks: 16, maxBytes: 1e9 });
    const tasks: Array<{ paths: string[]; start: number; end: number }> = [];
    let clock = 0;
    let overlapped = false;
    let running = 0;
    for (let i = 0; i < 400; i++) {
      const paths = r() < 0.2 ? [randomPath(r), randomPath(r)] : [randomPath(r)];
      const t = { paths, start: -1, end: -1 };
      tasks.push(t);
      const waits = Math.floor(r() * 3);
      await s.submit({
        paths,
        run: async () => {
          t.start = clock++;
          running++;
          if (running > 1) overlapped = true;
          for (let k = 0; k < waits; k++) await tick();
          running--;
          t.end = clock++;
        },
      });
    }
    await s.drain();
    for (let i = 0; i < tasks.length; i++) {
      for (let j = i + 1; j < tasks.length; j++) {
        if (!tasksConflict(tasks[i]!.paths, tasks[j]!.paths)) continue;
        expect(tasks[j]!.start, `task ${j} ${JSON.stringify(tasks[j]!.paths)} started before task ${i} ${JSON.stringify(tasks[i]!.paths)} ended`).toBeGreaterThan(tasks[i]!.end);
      }
    }
    expect(overlapped).toBe(true);
  });

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
