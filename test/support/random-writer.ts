// A seeded random writer for replication tests: creates, appends, overwrites, truncates, deletes, renames (files
// and directories, onto new names and over existing ones), chmod, utimes, symlinks, hard links, editor-style
// saves and moves out of and into the protected set, in an order fixed by the seed (the timing is not).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TreeEntry } from './trees';
import { seededRandom } from '../bench/common';

export interface RandomWriterOptions {
  /** The protected set's root. */
  root: string;
  /** A directory outside the set, for moves out of and into it. */
  outside: string;
  ops: number;
  seed: number;
  /** Hears each operation as it is done (for reading a failure). */
  log?: (line: string) => void;
}

type Op = (r: () => number) => Promise<string>;

/** Error codes a random operation may meet on a path another operation moved or removed: skipped, not a failure. */
const RACY = new Set(['ENOENT', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY', 'EISDIR', 'EINVAL', 'EPERM']);

export async function randomWriter(o: RandomWriterOptions): Promise<Record<string, number>> {
  const rnd = seededRandom(o.seed);
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(rnd() * xs.length)] : undefined);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const dirs: string[] = [''];
  /** Regular files only: content, mode and time operations never go through a symlink. */
  const files: string[] = [];
  const links: string[] = [];
  const outsideItems: string[] = [];
  let n = 0;
  const fresh = (prefix: string) => `${prefix}${o.seed}-${n++}${rnd() < 0.1 ? ' sp ä' : ''}`;
  const abs = (rel: string) => path.join(o.root, rel);
  const anyDir = () => pick(dirs) ?? '';
  const anyFile = () => pick(files);
  const anyName = () => pick([...files, ...links]);
  const forget = (rel: string) => {
    for (const list of [files, links, dirs]) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i] === rel || list[i]!.startsWith(`${rel}/`)) list.splice(i, 1);
    }
    if (!dirs.includes('')) dirs.unshift('');
  };

  // Seed the lists with what the tree already holds.
  for (const e of await fs.readdir(o.root, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(o.root, path.join(e.parentPath, e.name));
    if (e.isDirectory()) dirs.push(rel);
    else if (e.isFile()) files.push(rel);
    else if (e.isSymbolicLink()) links.push(rel);
  }
  /** Files and symlinks now under `dir` (after a move into the set). */
  const adopt = async (dir: string) => {
    for (const e of await fs.readdir(abs(dir), { recursive: true, withFileTypes: true })) {
      const rel = path.relative(o.root, path.join(e.parentPath, e.name));
      (e.isDirectory() ? dirs : e.isSymbolicLink() ? links : files).push(rel);
    }
  };

  const ops: Array<[weight: number, name: string, op: Op]> = [
    [15, 'create', async () => { const f = path.join(anyDir(), fresh('f')); await fs.writeFile(abs(f), bytes(Math.floor(rnd() ** 3 * 65536))); files.push(f); return f; }],
    [15, 'append', async () => { const f = anyFile(); if (f) await fs.appendFile(abs(f), bytes(1 + Math.floor(rnd() * 3000))); return f ?? ''; }],
    [10, 'overwrite', async () => {
      const f = anyFile(); if (!f) return '';
      const fh = await fs.open(abs(f), 'r+');
      try { const size = (await fh.stat()).size; await fh.write(bytes(1 + Math.floor(rnd() * 5000)), 0, undefined, Math.floor(rnd() * (size + 1))); } finally { await fh.close(); }
      return f;
    }],
    [5, 'truncate', async () => { const f = anyFile(); if (f) await fs.truncate(abs(f), Math.floor(rnd() * 20000)); return f ?? ''; }],
    [6, 'delete', async () => { const f = anyName(); if (f) { await fs.rm(abs(f), { force: true }); forget(f); } return f ?? ''; }],
    [8, 'rename', async () => {
      const f = anyName(); if (!f) return '';
      const to = path.join(anyDir(), fresh('r'));
      const isLink = links.includes(f);
      await fs.rename(abs(f), abs(to)); forget(f); (isLink ? links : files).push(to); return `${f} -> ${to}`;
    }],
    [4, 'rename-over', async () => {
      const f = anyName(); const g = anyName(); if (!f || !g || f === g) return '';
      const isLink = links.includes(f);
      await fs.rename(abs(f), abs(g)); forget(f); forget(g); (isLink ? links : files).push(g); return `${f} -> ${g}`;
    }],
    [4, 'editor-save', async () => {
      const f = anyFile(); if (!f) return '';
      const tmp = path.join(path.dirname(f), `.${path.basename(f)}.swp`);
      await fs.writeFile(abs(tmp), bytes(Math.floor(rnd() * 8000)));
      await fs.rename(abs(tmp), abs(f)); return f;
    }],
    [5, 'mkdir', async () => {
      const parent = anyDir(); if (parent.split('/').length > 4) return '';
      const d = path.join(parent, fresh('d')); await fs.mkdir(abs(d)); dirs.push(d); return d;
    }],
    [4, 'rename-dir', async () => {
      const d = pick(dirs.filter((x) => x !== '')); if (!d) return '';
      const parent = pick(dirs.filter((x) => x !== d && !x.startsWith(`${d}/`))) ?? '';
      const to = path.join(parent, fresh('m'));
      await fs.rename(abs(d), abs(to));
      forget(d);
      dirs.push(to);
      await adopt(to);
      return `${d} -> ${to}`;
    }],
    [2, 'rmdir', async () => { const d = pick(dirs.filter((x) => x !== '')); if (d) { await fs.rm(abs(d), { recursive: true, force: true }); forget(d); } return d ?? ''; }],
    [4, 'chmod', async () => { const f = anyFile(); if (f) await fs.chmod(abs(f), pick([0o600, 0o640, 0o644, 0o755, 0o700])!); return f ?? ''; }],
    [3, 'utimes', async () => { const f = anyFile(); if (f) { const t = new Date(Date.now() - Math.floor(rnd() * 1e9)); await fs.utimes(abs(f), t, t); } return f ?? ''; }],
    [4, 'symlink', async () => {
      const l = path.join(anyDir(), fresh('l'));
      await fs.symlink(pick(['../x', 'target', '/etc/hostname', anyName() ?? 'none'])!, abs(l)); links.push(l); return l;
    }],
    [4, 'hardlink', async () => {
      const f = anyName(); if (!f) return '';
      const l = path.join(anyDir(), fresh('h')); await fs.link(abs(f), abs(l)); (links.includes(f) ? links : files).push(l); return `${f} = ${l}`;
    }],
    [2, 'move-out', async () => {
      const x = pick([...files, ...links, ...dirs.filter((d) => d !== '')]); if (!x) return '';
      const out = path.join(o.outside, fresh('o'));
      await fs.rename(abs(x), out); forget(x); outsideItems.push(out); return `${x} -> outside`;
    }],
    [2, 'move-in', async () => {
      let from = outsideItems.pop();
      if (!from) { from = path.join(o.outside, fresh('n')); await fs.writeFile(from, bytes(Math.floor(rnd() * 4000))); }
      const to = path.join(anyDir(), fresh('i'));
      await fs.rename(from, abs(to));
      const st = await fs.lstat(abs(to));
      if (st.isDirectory()) {
        dirs.push(to);
        await adopt(to);
      } else (st.isSymbolicLink() ? links : files).push(to);
      return `outside -> ${to}`;
    }],
  ];
  const total = ops.reduce((s, [w]) => s + w, 0);
  const counts: Record<string, number> = {};
  for (let i = 0; i < o.ops; i++) {
    let x = rnd() * total;
    const [, name, op] = ops.find(([w]) => (x -= w) < 0) ?? ops[0]!;
    try {
      const what = await op(rnd);
      o.log?.(`${i} ${name} ${what}`);
      counts[name] = (counts[name] ?? 0) + 1;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      o.log?.(`${i} ${name} skipped: ${code}`);
      if (!RACY.has(code)) throw err;
      counts.skipped = (counts.skipped ?? 0) + 1;
    }
    if (rnd() < 0.05) await new Promise((r) => setTimeout(r, Math.floor(rnd() * 60)));
  }
  return counts;
}

/**
 * A hard link whose other names left the protected set is a single name on the target: drop the link group of
 * any group with one member, so both sides compare alike.
 */
export function withoutSoloLinks(tree: Record<string, TreeEntry>): Record<string, TreeEntry> {
  const members = new Map<string, number>();
  for (const e of Object.values(tree)) if (e.linkGroup) members.set(e.linkGroup, (members.get(e.linkGroup) ?? 0) + 1);
  const out: Record<string, TreeEntry> = {};
  for (const [k, e] of Object.entries(tree)) {
    if (e.linkGroup && members.get(e.linkGroup) === 1) { const { linkGroup: _g, ...rest } = e; out[k] = rest; } else out[k] = e;
  }
  return out;
}
