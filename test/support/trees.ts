// Builds test trees and compares two trees byte for byte with their metadata (modes, mtimes, symlinks, hard links).
import fs from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtimeMs: number;
  size: number;
  hash?: string;
  target?: string;
  /** Index of the first path sharing this inode, for hard links. */
  linkGroup?: string;
}

export async function snapshotTree(root: string, opts: { dirMtimes?: boolean } = {}): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  const inodes = new Map<number, string>();
  async function visit(dir: string, rel: string) {
    for (const name of (await fs.readdir(dir)).sort()) {
      if (name.startsWith('.tandem.')) continue;
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(p);
      if (st.isDirectory()) {
        out[r] = { type: 'dir', mode: st.mode & 0o7777, mtimeMs: opts.dirMtimes === false ? 0 : Math.floor(st.mtimeMs), size: 0 };
        await visit(p, r);
      } else if (st.isSymbolicLink()) {
        out[r] = { type: 'symlink', mode: 0, mtimeMs: 0, size: 0, target: await fs.readlink(p) };
      } else {
        const e: TreeEntry = { type: 'file', mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs), size: st.size, hash: createHash('sha256').update(await fs.readFile(p)).digest('hex') };
        if (st.nlink > 1) {
          e.linkGroup = inodes.get(st.ino) ?? r;
          inodes.set(st.ino, e.linkGroup);
        }
        out[r] = e;
      }
    }
  }
  await visit(root, '');
  return out;
}

/** Differences between two snapshots, as readable lines (empty when identical). */
export function diffTrees(a: Record<string, TreeEntry>, b: Record<string, TreeEntry>): string[] {
  const lines: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!a[k]) lines.push(`only in target: ${k}`);
    else if (!b[k]) lines.push(`only in source: ${k}`);
    else if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) lines.push(`differs: ${k} ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`);
  }
  return lines.sort();
}

/** Incompressible test data. */
export function randomData(size: number): Buffer {
  return randomBytes(size);
}
