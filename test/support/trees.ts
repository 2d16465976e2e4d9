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

/**
 * Times are compared to the microsecond, cut from the nanoseconds: what utimes can set (Node cannot set a finer time),
 * so what the target can match. Comparing whole milliseconds of the `mtimeMs` doubles instead flags a copy of a time a
 * few hundred nanoseconds before a millisecond, which the double rounds up to it.
 */
const timeMs = (ns: bigint): number => Number(ns / 1000n) / 1000;

export async function snapshotTree(root: string, opts: { dirMtimes?: boolean } = {}): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  const inodes = new Map<bigint, string>();
  async function visit(dir: string, rel: string) {
    for (const name of (await fs.readdir(dir)).sort()) {
      if (name.startsWith('.tandem.')) continue;
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(p, { bigint: true });
      const mode = Number(st.mode) & 0o7777;
      if (st.isDirectory()) {
        out[r] = { type: 'dir', mode, mtimeMs: opts.dirMtimes === false ? 0 : timeMs(st.mtimeNs), size: 0 };
        await visit(p, r);
      } else if (st.isSymbolicLink()) {
        out[r] = { type: 'symlink', mode: 0, mtimeMs: 0, size: 0, target: await fs.readlink(p) };
      } else {
        const e: TreeEntry = { type: 'file', mode, mtimeMs: timeMs(st.mtimeNs), size: Number(st.size), hash: createHash('sha256').update(await fs.readFile(p)).digest('hex') };
        if (st.nlink > 1n) {
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
