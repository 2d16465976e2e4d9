// Streams the protected set in depth-first, name-sorted order with the rules applied; resumable after a cursor.
// Memory is bounded by the largest directory and the tree's depth, never by the number of files.
import fs from 'node:fs/promises';
import fss from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BigIntStats } from 'node:fs';
import type { ManifestEntry, FileMeta } from '../../shared/protocol/ops';
import { compileRules, protectedRoots, type RuleInput } from '../../shared/rules';
import { joinAbsolute } from '../../shared/paths';
import { splitUtf8Names } from './dir-names';

export type WalkItem =
  | { kind: 'entry'; entry: ManifestEntry }
  /** After a directory's contents: the names the source has there (for orphans) and its metadata (applied last). */
  | { kind: 'dirDone'; path: string; names: string[]; meta: FileMeta };

/**
 * A file time in milliseconds, cut to whole microseconds from the nanoseconds: the finest time the target can set
 * (utimes), and never rounded up. The `mtimeMs` double of a plain stat can be a few hundred nanoseconds off, enough to
 * land in the next millisecond; a copy made from it then differed from the source in every comparison by millisecond.
 */
export const timeMsOf = (ns: bigint): number => Number(ns / 1000n) / 1000;

/** Mode, owner and time of an object, from a bigint stat (see timeMsOf). */
export const metaOf = (st: BigIntStats): FileMeta => ({
  mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtimeMs: timeMsOf(st.mtimeNs),
});

/** Depth-first order of two absolute paths: compares segment by segment. */
export function dfsCompare(a: string, b: string): number {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    if (sa[i] !== sb[i]) return sa[i]! < sb[i]! ? -1 : 1;
  }
  return sa.length - sb.length;
}

const isSameOrAncestor = (a: string, b: string) => a === b || b.startsWith(a.endsWith('/') ? a : a + '/');

export interface WalkOptions {
  /** Resume after this path (the last entry fully acknowledged); everything up to it is skipped. */
  after?: string | null;
  signal?: AbortSignal;
  /** Hears of each name the walk listed but found gone when it came to it (and of a directory gone before it was read). */
  onVanished?: (path: string) => void;
  /**
   * Hears of each path that is there but could not be looked at or listed (permissions, an I/O error, a path longer
   * than the system allows). It is left out of this walk, never taken for gone: the target keeps its copy.
   */
  onUnreadable?: (path: string, err: unknown) => void;
}

/** Errors that mean the path is not there (any more), as opposed to "there, but could not be read". */
const isGoneError = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException)?.code ?? '');

function readlinkOrEmpty(p: string): string {
  try {
    return fss.readlinkSync(p);
  } catch {
    return '';
  }
}

export async function* walkProtectedSet(rules: RuleInput[], opts: WalkOptions = {}): AsyncGenerator<WalkItem> {
  const matcher = compileRules(rules);
  const after = opts.after ?? null;
  const hardLinks = new Map<string, string>();
  /** A resumed walk has looked for the names before its cursor of the files with several names (once, when needed). */
  let linksBeforeCursorKnown = after === null;

  /**
   * A resumed walk skips what was sent before the cursor, but a file with several names may have its first name
   * there: the target has that name, and the later ones must be linked to it, not sent as separate files. Records
   * the first included name before (or at) the cursor of every such file, in walk order.
   */
  async function rememberLinksBeforeCursor(cursor: string): Promise<void> {
    let statted = 0;
    const visit = async (dir: string): Promise<void> => {
      let names: string[];
      try {
        names = splitUtf8Names(dir, await fs.readdir(dir)).names.sort();
      } catch {
        return;
      }
      for (const name of names) {
        const p = joinAbsolute(dir, name);
        if (!isSameOrAncestor(p, cursor) && dfsCompare(p, cursor) > 0) break; // sorted: the rest is past the cursor
        if (++statted % 256 === 0) await nextTurn();
        const st = fss.lstatSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        const included = matcher.isIncluded(p);
        if (st.isDirectory()) {
          if (included || matcher.mayContainIncluded(p)) await visit(p);
        } else if (included && st.nlink > 1 && (st.isFile() || st.isSymbolicLink())) {
          const key = `${st.dev}:${st.ino}`;
          if (!hardLinks.has(key)) hardLinks.set(key, p);
        }
      }
    };
    for (const root of [...protectedRoots(rules)].sort(dfsCompare)) {
      if (!isSameOrAncestor(root, cursor) && dfsCompare(root, cursor) > 0) continue;
      const st = fss.lstatSync(root, { throwIfNoEntry: false });
      if (st?.isDirectory()) await visit(root);
    }
  }

  function entryOf(p: string, st: BigIntStats, target?: string): ManifestEntry {
    if (st.isDirectory()) return { path: p, type: 'dir', size: 0, meta: metaOf(st) };
    const e: ManifestEntry = st.isSymbolicLink()
      ? { path: p, type: 'symlink', size: 0, meta: metaOf(st), target }
      : { path: p, type: 'file', size: Number(st.size), meta: metaOf(st) };
    // Hard links: files, and symlinks too (link(2) does not follow them).
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = hardLinks.get(key);
      if (first) e.linkOf = first;
      else hardLinks.set(key, p);
    }
    return e;
  }

  async function* visitDir(dir: string, dirSt: BigIntStats): AsyncGenerator<WalkItem> {
    let names: string[];
    try {
      // Names that are not UTF-8 cannot be sent; the change capture, which lists every directory too, reports them.
      names = splitUtf8Names(dir, await fs.readdir(dir)).names.sort();
    } catch (err) {
      if (isGoneError(err)) { // vanished while walking (or a file there now): replication catches up
        opts.onVanished?.(dir);
        return;
      }
      // Unreadable: its contents are left alone on both sides (no orphans looked for there); the rest goes on.
      opts.onUnreadable?.(dir, err);
      return;
    }
    const present: string[] = [];
    let statted = 0;
    for (const name of names) {
      if (opts.signal?.aborted) return;
      const p = joinAbsolute(dir, name);
      const included = matcher.isIncluded(p);
      // Synchronous lstat: a metadata lookup is far cheaper than a thread-pool trip; yield now and then.
      if (++statted % 256 === 0) await nextTurn();
      let st: BigIntStats | undefined;
      try {
        st = fss.lstatSync(p, { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        if (isGoneError(err)) {
          opts.onVanished?.(p);
          continue;
        }
        // There but not readable: still listed as present, so the target does not take its copy for an orphan.
        present.push(name);
        opts.onUnreadable?.(p, err);
        continue;
      }
      if (!st) {
        opts.onVanished?.(p);
        continue;
      }
      const descend = st.isDirectory() && (included || matcher.mayContainIncluded(p));
      if (!included && !descend) continue;
      if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink()) continue; // sockets, fifos, devices are not replicated
      present.push(name);
      if (after && !isSameOrAncestor(p, after) && dfsCompare(p, after) < 0) continue; // done before the cursor
      const alreadySent = after !== null && isSameOrAncestor(p, after);
      if (included && !alreadySent && !linksBeforeCursorKnown && !st.isDirectory() && st.nlink > 1 && !hardLinks.has(`${st.dev}:${st.ino}`)) {
        await rememberLinksBeforeCursor(after!);
        linksBeforeCursorKnown = true;
      }
      if (included && !alreadySent) {
        yield { kind: 'entry', entry: entryOf(p, st, st.isSymbolicLink() ? readlinkOrEmpty(p) : undefined) };
      } else if (included && !st.isDirectory() && st.nlink > 1) {
        entryOf(p, st); // remember the first name of a hard link even when it was sent before the cursor
      }
      if (descend) yield* visitDir(p, st);
    }
    // Its list of names says what the target may delete as orphans: only while the directory is still the one
    // listed. A volume unmounted meanwhile leaves an empty mount point (another device) where its files were.
    let now: BigIntStats | undefined;
    try {
      now = fss.lstatSync(dir, { bigint: true, throwIfNoEntry: false });
    } catch { /* not a directory path any more: as gone */ }
    if (!now || now.dev !== dirSt.dev || now.ino !== dirSt.ino) {
      opts.onVanished?.(dir);
      return;
    }
    yield { kind: 'dirDone', path: dir, names: present, meta: metaOf(dirSt) };
  }

  for (const root of [...protectedRoots(rules)].sort(dfsCompare)) {
    let st: BigIntStats;
    try {
      st = await fs.lstat(root, { bigint: true });
    } catch {
      continue; // a root that does not exist yet is simply empty
    }
    const rootIncluded = matcher.isIncluded(root);
    const alreadySent = after !== null && (isSameOrAncestor(root, after) || dfsCompare(root, after) < 0);
    if (rootIncluded && !alreadySent) {
      const target = st.isSymbolicLink() ? await fs.readlink(root).catch(() => '') : undefined;
      yield { kind: 'entry', entry: entryOf(root, st, target) };
    }
    if (st.isDirectory() && !(after && !isSameOrAncestor(root, after) && dfsCompare(root, after) < 0)) yield* visitDir(root, st);
  }
}

/** Counts what a mirror will look at (manual "calculate size"): files and bytes of the protected set. */
export async function measureProtectedSet(rules: RuleInput[], signal?: AbortSignal): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const item of walkProtectedSet(rules, { signal })) {
    if (item.kind === 'entry' && item.entry.type === 'file') {
      files++;
      if (!item.entry.linkOf) bytes += item.entry.size;
    }
  }
  return { files, bytes };
}
