// Unit tests of the pure planner: rename pairing, ordering and cycle breaking, without a file system.
import { describe, expect, it } from 'vitest';
import { planOps, TEMP_INFIX } from './plan-ops';
import { TreeIndex } from './tree-index';
import type { EntryKind, Observation, Observed, PlannedOp } from './types';

let nextIno = 100;
const obj = (kind: EntryKind, over: Partial<Observed> = {}): Observed => ({
  key: `1:${++nextIno}`, kind, size: kind === 'file' ? 10 : 0, mtimeMs: 1000, ctimeMs: 1000,
  mode: kind === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, nlink: 1, ...(kind === 'symlink' ? { target: 'x' } : {}), ...over,
});
const file = (over: Partial<Observed> = {}) => obj('file', over);
const dir = (over: Partial<Observed> = {}) => obj('dir', over);

function treeOf(entries: Array<[string, Observed]>): TreeIndex {
  const t = new TreeIndex();
  for (const [p, o] of entries) t.add(p, o);
  return t;
}

const seen = (path: string, now: Observed | null, content = false): Observation => ({ path, now, content });
const brief = (ops: PlannedOp[]) =>
  ops.map((o) => (o.op === 'rename' ? `rename ${o.from} -> ${o.path}` : o.op === 'hardlink' ? `hardlink ${o.path} = ${o.existing}` : `${o.op} ${o.path}`));

describe('planOps', () => {
  it('a new file is sent whole', () => {
    const R = dir();
    const t = treeOf([['/r', R]]);
    expect(brief(planOps([seen('/r/a', file(), true)], t))).toEqual(['sendFile /r/a']);
  });

  it('a rename within a directory is a rename, not delete + create', () => {
    const R = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    expect(brief(planOps([seen('/r/a', null), seen('/r/b', A)], t))).toEqual(['rename /r/a -> /r/b']);
    expect(t.get('/r/b')?.key).toBe(A.key);
    expect(t.has('/r/a')).toBe(false);
  });

  it('a move across directories is a rename, whichever side is seen first', () => {
    const R = dir(), X = dir(), Y = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/x', X], ['/r/y', Y], ['/r/x/a', A]]);
    expect(brief(planOps([seen('/r/y/a', A), seen('/r/x/a', null)], t))).toEqual(['rename /r/x/a -> /r/y/a']);
  });

  it('a name reused right after a rename: the rename comes before the new file', () => {
    const R = dir(), A = file(), N = file();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    expect(brief(planOps([seen('/r/a', N, true), seen('/r/b', A)], t))).toEqual(['rename /r/a -> /r/b', 'sendFile /r/a']);
  });

  it('entries looked at in a directory that arrived in this plan and moved on are not placed where it was', () => {
    const R = dir(), P = dir(), Q = dir(), X = dir(), S = file();
    const t = treeOf([['/r', R], ['/r/p', P], ['/r/q', Q], ['/r/p/x', X], ['/r/s', S]]);
    // x was moved to /r/a, s renamed into it, a file created in it, then x moved on to /r/q/c: the looks at /r/a and
    // what was in it are older than the last one.
    const ops = brief(planOps([seen('/r/a', X), seen('/r/s', null), seen('/r/a/s', S), seen('/r/a/new', file(), true), seen('/r/p/x', null), seen('/r/q/c', X)], t));
    expect(ops.filter((o) => o.includes('/r/a/'))).toEqual([]);
    expect(t.get('/r/q/c')?.key).toBe(X.key);
    expect(t.has('/r/a')).toBe(false);
  });

  it('entries looked at before their directory was deleted (its inode number reused by a new file) are not sent into it', () => {
    const R = dir(), D = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/d', D], ['/r/d/a', A]]);
    const reused = file({ key: D.key });
    // d/a and d/new were looked at while d still stood; then d was removed and a new file took its inode number.
    expect(brief(planOps([seen('/r/d/a', { ...A, mtimeMs: 2000 }, true), seen('/r/d/new', file(), true), seen('/r/n', reused, true)], t)))
      .toEqual(['delete /r/d', 'sendFile /r/n']);
    expect(t.has('/r/d')).toBe(false);
    expect(t.has('/r/d/new')).toBe(false);
  });

  it('entries looked at before their directory went (found gone in the same batch) are neither rescued nor re-created', () => {
    const R = dir(), M = dir(), D = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/m', M], ['/r/m/d', D], ['/r/m/d/a', A]]);
    // m moved to n; d/a was looked at under the new path before d was removed.
    const plan = brief(planOps([seen('/r/n', M), seen('/r/n/d/a', { ...A, mtimeMs: 2000 }, true), seen('/r/n/d', null), seen('/r/m', null)], t));
    expect(plan).toEqual(['rename /r/m -> /r/n', 'delete /r/n/d']);
    expect(t.has('/r/n/d')).toBe(false);
  });

  // The file system frees an inode and hands its number to the next object created, of any kind.
  it('a file inode reused by a new directory elsewhere is a delete and a mkdir, never a rename', () => {
    const R = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    const reused = dir({ key: A.key });
    expect(brief(planOps([seen('/r/n', reused)], t))).toEqual(['delete /r/a', 'mkdir /r/n']);
    expect(t.get('/r/n')?.kind).toBe('dir');
    expect(t.has('/r/a')).toBe(false);
  });

  it('a file replaced at the same path by a directory with the same inode number becomes a directory', () => {
    const R = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    expect(brief(planOps([seen('/r/a', dir({ key: A.key }))], t))).toEqual(['delete /r/a', 'mkdir /r/a']);
    expect(t.get('/r/a')?.kind).toBe('dir');
  });

  it('a rename onto an existing file replaces it without a separate delete', () => {
    const R = dir(), A = file(), B = file();
    const t = treeOf([['/r', R], ['/r/a', A], ['/r/b', B]]);
    expect(brief(planOps([seen('/r/a', null), seen('/r/b', A)], t))).toEqual(['rename /r/a -> /r/b']);
  });

  it('a swap (a <-> b) is broken with a temporary name', () => {
    const R = dir(), A = file(), B = file();
    const t = treeOf([['/r', R], ['/r/a', A], ['/r/b', B]]);
    const ops = planOps([seen('/r/a', B), seen('/r/b', A)], t);
    expect(ops.every((o) => o.op === 'rename')).toBe(true);
    expect(ops).toHaveLength(3);
    expect(t.get('/r/a')?.key).toBe(B.key);
    expect(t.get('/r/b')?.key).toBe(A.key);
    expect([...t.entries()].some(([p]) => p.includes(TEMP_INFIX))).toBe(false);
  });

  it('moved out of the set (observed as excluded) is a delete', () => {
    const R = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    expect(brief(planOps([seen('/r/a', null)], t))).toEqual(['delete /r/a']);
  });

  it('a renamed directory carries its children; a change inside is sent under the new path', () => {
    const R = dir(), D = dir(), F = file();
    const t = treeOf([['/r', R], ['/r/d', D], ['/r/d/f', F]]);
    const F2 = { ...F, size: 20, mtimeMs: 2000 };
    const ops = planOps([seen('/r/e/f', F2, true), seen('/r/d', null), seen('/r/e', D)], t);
    expect(brief(ops)).toEqual(['rename /r/d -> /r/e', 'sendChanges /r/e/f', 'meta /r/e/f']);
  });

  it('a file moved out of a directory that is then deleted is renamed before the delete', () => {
    const R = dir(), D = dir(), F = file(), G = file();
    const t = treeOf([['/r', R], ['/r/d', D], ['/r/d/f', F], ['/r/d/g', G]]);
    const ops = planOps([seen('/r/d', null), seen('/r/d/f', null), seen('/r/d/g', null), seen('/r/h', F)], t);
    expect(brief(ops)).toEqual(['rename /r/d/f -> /r/h', 'delete /r/d']);
  });

  it('a directory replaced by a new one keeps a file moved into the new one (no re-send)', () => {
    const R = dir(), D1 = dir(), D2 = dir(), F = file();
    const t = treeOf([['/r', R], ['/r/d', D1], ['/r/d/f', F]]);
    const ops = planOps([seen('/r/d', D2), seen('/r/d/f', F)], t);
    expect(ops.some((o) => o.op === 'sendFile')).toBe(false);
    expect(t.get('/r/d')?.key).toBe(D2.key);
    expect(t.get('/r/d/f')?.key).toBe(F.key);
  });

  it('a second name of a known inode is a hard link', () => {
    const R = dir(), A = file();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    expect(brief(planOps([seen('/r/b', { ...A, nlink: 2 })], t))).toEqual(['hardlink /r/b = /r/a']);
  });

  it('a hard link to a file says what the target has there at that point: the size and time before this batch', () => {
    const R = dir(), A = file({ size: 10, mtimeMs: 1000.25 });
    const t = treeOf([['/r', R], ['/r/a', A]]);
    // Written and linked in one batch: the link comes first, the content after it.
    const ops = planOps([seen('/r/b', { ...A, nlink: 2, size: 20, mtimeMs: 2000 }, true), seen('/r/a', { ...A, nlink: 2, size: 20, mtimeMs: 2000 }, true)], t);
    expect(ops[0]).toEqual({ op: 'hardlink', path: '/r/b', existing: '/r/a', expect: { size: 10, mtimeMs: 1000.25 } });
    expect(ops.slice(1).map((o) => o.op)).toEqual(['sendChanges', 'meta']);
    // A size the model does not know (a read that failed) says nothing.
    const U = file({ size: -1 });
    const t2 = treeOf([['/r', R], ['/r/u', U]]);
    expect(planOps([seen('/r/v', { ...U, nlink: 2, size: 5 })], t2)[0]).toEqual({ op: 'hardlink', path: '/r/v', existing: '/r/u' });
  });

  it('a second name of a symlink is a hard link too, not a rename that takes the first name away', () => {
    const R = dir(), L = obj('symlink');
    const t = treeOf([['/r', R], ['/r/a', L]]);
    expect(brief(planOps([seen('/r/b', { ...L, nlink: 2 })], t))).toEqual(['hardlink /r/b = /r/a']);
    // Both names seen (link(2) changes the first name's ctime and link count): still one link, no rename.
    const t2 = treeOf([['/r', R], ['/r/a', L]]);
    expect(brief(planOps([seen('/r/a', { ...L, nlink: 2 }), seen('/r/b', { ...L, nlink: 2 })], t2))).toEqual(['hardlink /r/b = /r/a']);
    expect(t2.pathsOf(L.key).sort()).toEqual(['/r/a', '/r/b']);
  });

  it('a file replaced by a directory is deleted first', () => {
    const R = dir(), A = file(), D = dir();
    const t = treeOf([['/r', R], ['/r/a', A]]);
    expect(brief(planOps([seen('/r/a', D)], t))).toEqual(['delete /r/a', 'mkdir /r/a']);
  });

  it('chmod is a meta op; a size change is a content comparison followed by meta', () => {
    const R = dir(), A = file(), B = file();
    const t = treeOf([['/r', R], ['/r/a', A], ['/r/b', B]]);
    const ops = planOps([seen('/r/a', { ...A, mode: 0o600, ctimeMs: 2000 }, true), seen('/r/b', { ...B, size: 99 }, true)], t);
    expect(brief(ops)).toEqual(['meta /r/a', 'sendChanges /r/b', 'meta /r/b']);
  });

  it('a new directory comes before its contents, whatever order they were seen in', () => {
    const R = dir(), D = dir(), F = file(), L = obj('symlink', { target: '../f' });
    const t = treeOf([['/r', R]]);
    const ops = planOps([seen('/r/d/f', F, true), seen('/r/d/l', L), seen('/r/d', D)], t);
    expect(brief(ops)).toEqual(['mkdir /r/d', 'sendFile /r/d/f', 'symlink /r/d/l']);
  });
});

// ---- randomized: real-FS mutations, event-like observations, ops replayed on a simulated target ----

interface SimEntry { key: string; kind: EntryKind; size: number; nlink: number }
type Sim = Map<string, SimEntry>;

const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
const under = (p: string, d: string) => p.startsWith(d + '/');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function toObserved(e: SimEntry): Observed {
  return { key: e.key, kind: e.kind, size: e.size, mtimeMs: e.size, ctimeMs: e.size, mode: 0o644, uid: 0, gid: 0, nlink: e.nlink, ...(e.kind === 'symlink' ? { target: 't' + e.key } : {}) };
}

/** Applies planned ops with the target's semantics, failing on anything a real target would refuse. */
function replay(initial: Sim, ops: PlannedOp[], finalSim: Sim): Map<string, string> {
  const t = new Map<string, string>(); // path -> identity (file: key, dir: 'dir', symlink: target)
  for (const [p, e] of initial) t.set(p, e.kind === 'dir' ? 'dir' : e.kind === 'file' ? e.key : 't' + e.key);
  const need = (cond: boolean, msg: string) => { if (!cond) throw new Error(msg + ' in ' + JSON.stringify(ops)); };
  const parentOk = (p: string) => parentOf(p) === '/r' || parentOf(p) === '/' || t.get(parentOf(p)) === 'dir';
  for (const op of ops) {
    switch (op.op) {
      case 'mkdir':
        need(!t.has(op.path) && parentOk(op.path), `mkdir ${op.path}`);
        t.set(op.path, 'dir');
        break;
      case 'sendFile':
        need(t.get(op.path) !== 'dir' && parentOk(op.path), `sendFile ${op.path}`);
        t.set(op.path, op.key);
        break;
      case 'symlink':
        need(!t.has(op.path) && parentOk(op.path), `symlink ${op.path}`);
        t.set(op.path, op.target);
        break;
      case 'hardlink':
        need(!t.has(op.path) && t.has(op.existing) && t.get(op.existing) !== 'dir' && parentOk(op.path), `hardlink ${op.path}`);
        t.set(op.path, t.get(op.existing)!);
        break;
      case 'delete':
        need(t.has(op.path), `delete ${op.path}`);
        for (const p of [...t.keys()]) if (p === op.path || under(p, op.path)) t.delete(p);
        break;
      case 'rename': {
        need(t.has(op.from) && parentOk(op.path) && !under(op.path, op.from), `rename ${op.from} -> ${op.path}`);
        need(!t.has(op.path) || (t.get(op.path) !== 'dir' && t.get(op.from) !== 'dir'), `rename onto ${op.path}`);
        const moving = [...t.entries()].filter(([p]) => p === op.from || under(p, op.from));
        for (const [p] of moving) t.delete(p);
        for (const [p, id] of moving) t.set(op.path + p.slice(op.from.length), id);
        break;
      }
      case 'sendChanges':
      case 'meta':
        need(t.has(op.path), `${op.op} ${op.path}`);
        if (op.op === 'sendChanges') t.set(op.path, finalSim.get(op.path)!.key);
        break;
    }
  }
  return t;
}

describe('planOps on random scenarios', () => {
  it('replaying the plan turns the old tree into the new one, with renames for every surviving inode', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const rand = rng(seed);
      const pick = <T,>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
      let ino = 0;
      const newKey = () => `9:${++ino}`;
      const sim: Sim = new Map([['/r', { key: newKey(), kind: 'dir', size: 0, nlink: 1 }]]);
      const names = ['a', 'b', 'c', 'd', 'e'];
      for (let i = 0; i < 10; i++) {
        const dirs = [...sim].filter(([, e]) => e.kind === 'dir').map(([p]) => p);
        const p = pick(dirs) + '/' + pick(names);
        if (!sim.has(p)) sim.set(p, { key: newKey(), kind: rand() < 0.4 ? 'dir' : rand() < 0.85 ? 'file' : 'symlink', size: 1, nlink: 1 });
      }
      const initial: Sim = new Map([...sim].map(([p, e]) => [p, { ...e }]));
      const tree = new TreeIndex();
      for (const [p, e] of initial) tree.add(p, toObserved(e));
      const dirKeyInitial = new Map([...initial].filter(([, e]) => e.kind === 'dir').map(([p, e]) => [e.key, p]));

      // Events: (directory inode, name) in order, as inotify reports them.
      const events: Array<{ dirKey: string; name: string; content: boolean }> = [];
      const touch = (p: string, content = false) => events.push({ dirKey: sim.get(parentOf(p))!.key, name: p.slice(p.lastIndexOf('/') + 1), content });
      const steps = 1 + Math.floor(rand() * 10);
      for (let s = 0; s < steps; s++) {
        const paths = [...sim.keys()].filter((p) => p !== '/r');
        const dirs = [...sim].filter(([, e]) => e.kind === 'dir').map(([p]) => p);
        const r = rand();
        if (r < 0.35 && paths.length) { // mv
          const from = pick(paths);
          const to = pick(dirs) + '/' + pick(names);
          if (to === from || under(to, from)) continue;
          const dst = sim.get(to);
          const src = sim.get(from)!;
          if (dst && (dst.kind === 'dir' || src.kind === 'dir')) continue;
          touch(from); touch(to);
          if (dst) { sim.delete(to); const other = [...sim.values()].find((e) => e.key === dst.key); if (other) other.nlink--; }
          const moving = [...sim].filter(([p]) => p === from || under(p, from));
          for (const [p] of moving) sim.delete(p);
          for (const [p, e] of moving) sim.set(to + p.slice(from.length), e);
        } else if (r < 0.55 && paths.length) { // rm -r
          const p = pick(paths);
          const gone = [...sim.keys()].filter((q) => q === p || under(q, p)).sort((a, b) => b.length - a.length);
          for (const q of gone) { touch(q); const e = sim.get(q)!; sim.delete(q); for (const o of sim.values()) if (o.key === e.key) o.nlink--; }
        } else if (r < 0.8) { // create file/dir/symlink
          const p = pick(dirs) + '/' + pick(names);
          if (sim.has(p)) continue;
          sim.set(p, { key: newKey(), kind: rand() < 0.4 ? 'dir' : rand() < 0.85 ? 'file' : 'symlink', size: 1, nlink: 1 });
          touch(p, true);
        } else if (r < 0.9) { // write
          const files = paths.filter((p) => sim.get(p)!.kind === 'file');
          if (!files.length) continue;
          const p = pick(files);
          const k = sim.get(p)!.key;
          for (const e of sim.values()) if (e.key === k) e.size++;
          touch(p, true);
        } else { // hard link (to a file or, as link(2) allows, to a symlink)
          const files = paths.filter((p) => sim.get(p)!.kind !== 'dir');
          const p = pick(dirs) + '/' + pick(names);
          if (!files.length || sim.has(p)) continue;
          const e = sim.get(pick(files))!;
          for (const o of sim.values()) if (o.key === e.key) o.nlink++;
          sim.set(p, { ...e });
          touch(p);
        }
      }
      // Resolve like the batch resolver: current path of the event's directory, or its old one if it is gone.
      const finalDirPath = new Map([...sim].filter(([, e]) => e.kind === 'dir').map(([p, e]) => [e.key, p]));
      const obs = new Map<string, Observation>();
      const observe = (p: string, content: boolean) => {
        const prev = obs.get(p);
        if (prev) { prev.content ||= content; return; }
        const e = sim.get(p);
        obs.set(p, { path: p, now: e ? toObserved(e) : null, content });
      };
      for (const ev of events) {
        const d = finalDirPath.get(ev.dirKey) ?? dirKeyInitial.get(ev.dirKey);
        if (d !== undefined) observe(d + '/' + ev.name, ev.content);
      }
      // New directories are listed (their entries may predate the watch); moved ones one level.
      for (const [p, e] of sim) {
        if (e.kind !== 'dir') continue;
        const before = dirKeyInitial.get(e.key);
        if (before === p) continue;
        for (const q of sim.keys()) if (parentOf(q) === p) observe(q, before === undefined);
      }
      const ops = planOps([...obs.values()], tree);
      const ctx = `seed ${seed}: ${JSON.stringify([...obs.values()].map((o) => [o.path, o.now?.key ?? null, o.now?.kind]))}\ninitial ${JSON.stringify([...initial])}\nops ${JSON.stringify(ops)}`;
      let target: Map<string, string>;
      try {
        target = replay(initial, ops, sim);
      } catch (err) {
        throw new Error(`${ctx}\n${(err as Error).message}`);
      }
      const expected = new Map([...sim].map(([p, e]) => [p, e.kind === 'dir' ? 'dir' : e.kind === 'file' ? e.key : 't' + e.key]));
      expect([...target].sort(), ctx).toEqual([...expected].sort());
      // The model now describes the new tree.
      expect([...tree.entries()].map(([p, n]) => [p, n.key]).sort(), ctx).toEqual([...sim].map(([p, e]) => [p, e.key]).sort());
      // Surviving inodes travel by rename or link, never by re-sending content.
      const initialKeys = new Set([...initial.values()].map((e) => e.key));
      for (const o of ops) if (o.op === 'sendFile') expect(initialKeys.has(o.key), `${ctx} resent ${o.path}`).toBe(false);
    }
  });
});
