// The model of the protected tree as last sent to the target: path → inode, inode → stat and block hashes.
// The planner updates it while planning. It lives in an SQLite database (a file in the agent data dir, or in memory
// for tests), so a source agent's memory does not grow with the number of protected files: a million files are a
// few hundred MB on disk and a bounded page cache in memory, where an in-process map needed ~0.8 GiB.
//
// Every change goes into one open transaction that commit() ends (the index store calls it after the ops planned
// from those changes have been handed on), so what is on disk may lag what was sent, never lead it.
import Database from 'better-sqlite3';
import { posix } from 'node:path';
import { fileHashes, type FileHashes } from './hash-codec';
import type { EntryKind, Observed } from './types';

export { fileHashes, type FileHashes } from './hash-codec';

/** One inode as the model has it; a hard-linked file has several paths, a directory exactly one. */
export interface TreeNode extends Observed {
  /** Its names, in path order: one, or a few for a hard-linked file. */
  readonly paths: readonly string[];
  readonly hashes: FileHashes | undefined;
  /** Whether it has block hashes, without reading them. */
  readonly hasHashes: boolean;
}

type Row = [key: string, kind: EntryKind, size: number, mtime: number, ctime: number, mode: number, uid: number,
  gid: number, nlink: number, target: string | null, hashed: number];

/** The inode columns a Row holds, in its order. */
const ROW_COLUMNS = ['key', 'kind', 'size', 'mtime', 'ctime', 'mode', 'uid', 'gid', 'nlink', 'target', 'hashed'];
const rowColumns = (alias: string): string => ROW_COLUMNS.map((c) => `${alias}.${c}`).join(', ');
const SCHEMA_VERSION = 1;
/** Block hashes set since the last flush are held in memory up to this many digest bytes (a growing file's index
 *  is replaced every batch; writing its blob each time would rewrite hundreds of KB per 50 ms). */
const HASH_CACHE_BYTES = 16 << 20;
/** SQLite's page cache for the index, in KiB (negative cache_size). The rest stays on disk. */
const PAGE_CACHE_KIB = 32 << 10;
const ENTRY_PAGE = 1000;

const parentOf = (path: string): string => posix.dirname(path);

/** `path` and the bounds of its descendants in byte order: every `path/…` sorts after `path/` and before `path0`. */
function subtreeOf(path: string): { path: string; lo: string; hi: string } {
  const lo = path === '/' ? '/' : path + '/';
  return { path, lo, hi: lo.slice(0, -1) + '0' };
}

/** A snapshot of one inode's row; its names and block hashes are read when asked for. */
class NodeView implements TreeNode {
  readonly key: string;
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly target: string | undefined;
  readonly hasHashes: boolean;

  constructor(private readonly tree: TreeIndex, row: Row) {
    this.key = row[0];
    this.kind = row[1];
    this.size = row[2];
    this.mtimeMs = row[3];
    this.ctimeMs = row[4];
    this.mode = row[5];
    this.uid = row[6];
    this.gid = row[7];
    this.nlink = row[8];
    this.target = row[9] ?? undefined;
    this.hasHashes = tree.cachedHashed(row[0]) ?? row[10] === 1;
  }

  get paths(): readonly string[] {
    return this.tree.pathsOf(this.key);
  }

  get hashes(): FileHashes | undefined {
    return this.hasHashes ? this.tree.hashesOf(this.key) : undefined;
  }
}

/** An observation as the named parameters of the inode statements. */
function statParams(obs: Observed): Record<string, unknown> {
  return {
    key: obs.key, kind: obs.kind, size: obs.size, mtimeMs: obs.mtimeMs, ctimeMs: obs.ctimeMs, mode: obs.mode,
    uid: obs.uid, gid: obs.gid, nlink: obs.nlink, target: obs.target ?? null,
  };
}

export class TreeIndex {
  private readonly db: Database.Database;
  private readonly q;
  private count: number;
  /** Block hashes set (or cleared: null) since the last flush. */
  private readonly hashCache = new Map<string, FileHashes | null>();
  private hashCacheBytes = 0;
  /** Directories whose last name left the model since the last takeRemovedDirs(). */
  private removedDirs = new Set<string>();
  private closed = false;

  /** Opens (creating if needed) the index in `file`; without one, a private in-memory index. */
  constructor(file = ':memory:') {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // Commits need not be durable (a lost commit is a stale index: the next comparison sends more), but the file
    // must never be torn: WAL with synchronous=NORMAL syncs at checkpoints only and stays consistent.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS inode (
        key TEXT PRIMARY KEY, kind TEXT NOT NULL, size REAL NOT NULL, mtime REAL NOT NULL, ctime REAL NOT NULL,
        mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, nlink INTEGER NOT NULL, target TEXT,
        hashed INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS name (path TEXT PRIMARY KEY, parent TEXT NOT NULL, key TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS name_by_parent ON name (parent);
      CREATE INDEX IF NOT EXISTS name_by_key ON name (key);
      CREATE INDEX IF NOT EXISTS inode_unhashed ON inode (key) WHERE kind = 'file' AND hashed = 0;
      CREATE TABLE IF NOT EXISTS hashes (
        key TEXT PRIMARY KEY, block_size INTEGER NOT NULL, file_size REAL NOT NULL, hashed_at REAL NOT NULL,
        digests BLOB NOT NULL
      );
    `);
    const version = this.db.prepare(`SELECT v FROM meta WHERE k = 'schema'`).pluck().get() as string | undefined;
    if (version === undefined) this.db.prepare(`INSERT INTO meta VALUES ('schema', ?)`).run(String(SCHEMA_VERSION));
    else if (version !== String(SCHEMA_VERSION)) throw new Error(`capture index ${file}: schema ${version}, expected ${SCHEMA_VERSION}`);
    this.q = {
      byPath: this.db.prepare(`SELECT ${rowColumns('i')} FROM name n JOIN inode i ON i.key = n.key WHERE n.path = ?`).raw(),
      byKey: this.db.prepare(`SELECT ${rowColumns('i')} FROM inode i WHERE i.key = ?`).raw(),
      keyOf: this.db.prepare('SELECT key FROM name WHERE path = ?').pluck(),
      pathsOf: this.db.prepare('SELECT path FROM name WHERE key = ? ORDER BY path').pluck(),
      dirPathOf: this.db.prepare(`SELECT n.path FROM inode i JOIN name n ON n.key = i.key WHERE i.key = ? AND i.kind = 'dir' LIMIT 1`).pluck(),
      children: this.db.prepare('SELECT path FROM name WHERE parent = ?').pluck(),
      entries: this.db.prepare(`SELECT n.path, ${rowColumns('i')}
        FROM name n JOIN inode i ON i.key = n.key WHERE n.path > ? ORDER BY n.path LIMIT ${ENTRY_PAGE}`).raw(),
      insertName: this.db.prepare('INSERT INTO name (path, parent, key) VALUES (?, ?, ?)'),
      deleteName: this.db.prepare('DELETE FROM name WHERE path = ?'),
      // A new inode, or a known one gaining a name (a hard link): its stat is refreshed, its hashes stay.
      upsertInode: this.db.prepare(`INSERT INTO inode (key, kind, size, mtime, ctime, mode, uid, gid, nlink, target, hashed)
        VALUES (@key, @kind, @size, @mtimeMs, @ctimeMs, @mode, @uid, @gid, @nlink, @target, 0)
        ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, size = excluded.size, mtime = excluded.mtime,
          ctime = excluded.ctime, mode = excluded.mode, uid = excluded.uid, gid = excluded.gid, nlink = excluded.nlink,
          target = excluded.target`),
      updateStat: this.db.prepare(`UPDATE inode SET kind = @kind, size = @size, mtime = @mtimeMs, ctime = @ctimeMs, mode = @mode,
        uid = @uid, gid = @gid, nlink = @nlink, target = @target WHERE key = @key`),
      inodeExists: this.db.prepare('SELECT 1 FROM inode WHERE key = ?').pluck(),
      hasNames: this.db.prepare('SELECT 1 FROM name WHERE key = ? LIMIT 1').pluck(),
      deleteInode: this.db.prepare('DELETE FROM inode WHERE key = ?'),
      deleteHashes: this.db.prepare('DELETE FROM hashes WHERE key = ?'),
      readHashes: this.db.prepare('SELECT block_size, file_size, hashed_at, digests FROM hashes WHERE key = ?').raw(),
      writeHashes: this.db.prepare('INSERT OR REPLACE INTO hashes (key, block_size, file_size, hashed_at, digests) VALUES (?, ?, ?, ?, ?)'),
      setHashed: this.db.prepare('UPDATE inode SET hashed = ? WHERE key = ?'),
      // Keys of the form dev:ino (one colon), written before the birth time was part of the key, with one name each.
      devInoKeys: this.db.prepare(`SELECT i.key, (SELECT n.path FROM name n WHERE n.key = i.key LIMIT 1) FROM inode i
        WHERE i.key NOT LIKE '%:%:%'`).raw(),
      rekeyInode: this.db.prepare('UPDATE inode SET key = @to WHERE key = @from'),
      rekeyNames: this.db.prepare('UPDATE name SET key = @to WHERE key = @from'),
      rekeyHashes: this.db.prepare('UPDATE hashes SET key = @to WHERE key = @from'),
      // A subtree is @path and the names between @lo and @hi (subtreeOf).
      dirsIn: this.db.prepare(`SELECT n.key FROM name n JOIN inode i ON i.key = n.key
        WHERE (n.path = @path OR (n.path > @lo AND n.path < @hi)) AND i.kind = 'dir'`).pluck(),
      subtreePaths: this.db.prepare('SELECT path FROM name WHERE path = @path OR (path > @lo AND path < @hi) ORDER BY path').pluck(),
      // Inodes all of whose names are in the subtree (they leave the model with it).
      orphanedBy: this.db.prepare(`SELECT DISTINCT n.key FROM name n WHERE (n.path = @path OR (n.path > @lo AND n.path < @hi))
        AND NOT EXISTS (SELECT 1 FROM name m WHERE m.key = n.key AND NOT (m.path = @path OR (m.path > @lo AND m.path < @hi)))`).pluck(),
      namesOutside: this.db.prepare(`SELECT DISTINCT m.path FROM name n JOIN inode i ON i.key = n.key AND i.nlink > 1
        JOIN name m ON m.key = n.key WHERE (n.path = @path OR (n.path > @lo AND n.path < @hi))
        AND NOT (m.path = @path OR (m.path > @lo AND m.path < @hi)) ORDER BY m.path`).pluck(),
      deleteSubtree: this.db.prepare('DELETE FROM name WHERE path = @path OR (path > @lo AND path < @hi)'),
      // substr counts characters, so the prefix length (@skip) is passed in code points.
      moveSubtree: this.db.prepare(`UPDATE name SET path = @to || substr(path, @skip),
        parent = CASE WHEN path = @path THEN @toParent ELSE @to || substr(parent, @skip) END
        WHERE path = @path OR (path > @lo AND path < @hi)`),
      unhashedAfter: this.db.prepare(`SELECT key FROM inode WHERE kind = 'file' AND hashed = 0 AND key > ? ORDER BY key LIMIT ?`).pluck(),
      countUnhashed: this.db.prepare(`SELECT count(*) FROM inode WHERE kind = 'file' AND hashed = 0`).pluck(),
      count: this.db.prepare('SELECT count(*) FROM name').pluck(),
      fileNames: this.db.prepare(`SELECT count(*) FROM name n JOIN inode i ON i.key = n.key WHERE i.kind = 'file'`).pluck(),
      fileBytes: this.db.prepare(`SELECT coalesce(sum(i.size), 0) FROM inode i WHERE i.kind = 'file'
        AND EXISTS (SELECT 1 FROM name n WHERE n.key = i.key)`).pluck(),
      getMeta: this.db.prepare('SELECT v FROM meta WHERE k = ?').pluck(),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      deleteMeta: this.db.prepare('DELETE FROM meta WHERE k = ?'),
    };
    this.count = this.q.count.get() as number;
    this.db.exec('BEGIN');
  }

  /** Number of paths. */
  get size(): number {
    return this.count;
  }

  /** Files by name (a hard link counts once per name) and their bytes (once per file), as the mirror's calculation counts them. */
  measureFiles(): { files: number; bytes: number } {
    return { files: this.q.fileNames.get() as number, bytes: this.q.fileBytes.get() as number };
  }

  get(path: string): TreeNode | undefined {
    const row = this.q.byPath.get(path) as Row | undefined;
    return row && new NodeView(this, row);
  }

  has(path: string): boolean {
    return this.q.keyOf.get(path) !== undefined;
  }

  node(key: string): TreeNode | undefined {
    const row = this.q.byKey.get(key) as Row | undefined;
    return row && new NodeView(this, row);
  }

  pathsOf(key: string): string[] {
    return this.q.pathsOf.all(key) as string[];
  }

  /** Where the model has the directory with this identity, if it has it. */
  dirPathOf(key: string): string | undefined {
    return this.q.dirPathOf.get(key) as string | undefined;
  }

  /** Paths of the direct children the model knows under a directory. */
  childPaths(dir: string): string[] {
    return this.q.children.all(dir) as string[];
  }

  /**
   * Every path in path order, read a page at a time: the model may be changed between pages (a removed path is
   * simply not reached, an added one is reached if it sorts after the current page).
   */
  *entries(): IterableIterator<[string, TreeNode]> {
    for (let after = ''; ;) {
      const rows = this.q.entries.all(after) as Array<[string, ...Row]>;
      for (const [path, ...row] of rows) yield [path, new NodeView(this, row as Row)];
      if (rows.length < ENTRY_PAGE) return;
      after = rows[rows.length - 1][0];
    }
  }

  /** Adds a name. If the inode is already known (hard link) the name joins it and its stat is refreshed. */
  add(path: string, obs: Observed): void {
    try {
      this.q.insertName.run(path, parentOf(path), obs.key);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw new Error(`tree index: ${path} is already occupied`);
      throw err;
    }
    this.count++;
    // A new inode has no hashes: those of an earlier one with the same number went when its last name did.
    this.q.upsertInode.run(statParams(obs));
    if (obs.kind === 'dir') this.removedDirs.delete(obs.key);
  }

  /** Refreshes the stat of the inode `obs.key` (all its names). */
  setStat(obs: Observed): void {
    if (this.q.updateStat.run(statParams(obs)).changes === 0) throw new Error(`tree index: unknown inode ${obs.key}`);
  }

  setHashes(key: string, hashes: FileHashes | undefined): void {
    if (this.q.inodeExists.get(key) === undefined) return;
    this.dropCachedHashes(key);
    this.hashCache.set(key, hashes ?? null);
    this.hashCacheBytes += hashes?.digests.length ?? 0;
    if (this.hashCacheBytes > HASH_CACHE_BYTES) this.flushHashes();
  }

  /** Removes a path and everything the model has below it. */
  removeSubtree(path: string): void {
    if (!this.has(path)) return;
    const range = subtreeOf(path);
    const orphaned = this.q.orphanedBy.all(range) as string[];
    for (const key of this.q.dirsIn.all(range) as string[]) this.removedDirs.add(key);
    this.count -= this.q.deleteSubtree.run(range).changes;
    for (const key of orphaned) this.forgetInode(key);
  }

  /** Removes one name only; entries below it stay (used when replaying a journal of per-path states). */
  removeName(path: string): void {
    const key = this.q.keyOf.get(path) as string | undefined;
    if (key === undefined) return;
    this.q.deleteName.run(path);
    this.count--;
    if (this.q.hasNames.get(key) !== undefined) return;
    if (this.node(key)?.kind === 'dir') this.removedDirs.add(key);
    this.forgetInode(key);
  }

  /** Renames a path and its subtree. The destination must be free. */
  move(from: string, to: string): void {
    if (from === to || !this.has(from)) return;
    if (this.has(to)) throw new Error(`tree index: cannot move ${from} onto occupied ${to}`);
    const range = subtreeOf(from);
    if (to.startsWith(range.lo)) throw new Error(`tree index: cannot move ${from} into itself (${to})`);
    this.q.moveSubtree.run({ ...range, to, skip: [...from].length + 1, toParent: parentOf(to) });
  }

  /** Keys of directories that left the model since the previous call (their watches can close). */
  takeRemovedDirs(): string[] {
    const out = [...this.removedDirs];
    this.removedDirs = new Set();
    return out;
  }

  /** `path` and its descendants in the model, in path order (empty if the model lacks `path`). */
  subtreePaths(path: string): string[] {
    if (!this.has(path)) return [];
    return this.q.subtreePaths.all(subtreeOf(path)) as string[];
  }

  /**
   * The other names, outside `path`'s subtree, of hard-linked inodes that have a name in it: when the subtree goes,
   * a write made through one of its names just before is only visible through these.
   */
  namesOutside(path: string): string[] {
    if (!this.has(path)) return [];
    return this.q.namesOutside.all(subtreeOf(path)) as string[];
  }

  /** Up to `limit` files without a block index whose keys sort after `afterKey`, in key order. */
  unhashedFiles(afterKey: string, limit: number): string[] {
    this.flushHashes();
    return this.q.unhashedAfter.all(afterKey, limit) as string[];
  }

  countUnhashedFiles(): number {
    this.flushHashes();
    return this.q.countUnhashed.get() as number;
  }

  /** Inodes still keyed `dev:ino` (an index written before `inodeKey` had the birth time), each with one of its paths. */
  devInoKeys(): Array<{ key: string; path: string | null }> {
    this.flushHashes();
    return (this.q.devInoKeys.all() as Array<[string, string | null]>).map(([key, path]) => ({ key, path }));
  }

  /** Gives an inode (its names and hashes) a new key. */
  rekey(from: string, to: string): void {
    this.flushHashes();
    this.dropCachedHashes(from);
    this.q.rekeyInode.run({ from, to });
    this.q.rekeyNames.run({ from, to });
    this.q.rekeyHashes.run({ from, to });
  }

  getMeta(k: string): string | undefined {
    return this.q.getMeta.get(k) as string | undefined;
  }

  setMeta(k: string, v: string | undefined): void {
    if (v === undefined) this.q.deleteMeta.run(k);
    else this.q.setMeta.run(k, v);
  }

  /** Makes everything changed so far part of the index on disk. */
  commit(): void {
    this.flushHashes();
    if (this.db.inTransaction) this.db.exec('COMMIT');
    else this.rolledBack();
    this.db.exec('BEGIN');
  }

  /**
   * SQLite rolls a transaction back by itself on some errors (a full disk, I/O errors): the model is then what was
   * last committed, older than what was sent, which only makes the next comparison send more. Counters follow it.
   */
  private rolledBack(): void {
    this.count = this.q.count.get() as number;
    this.hashCache.clear();
    this.hashCacheBytes = 0;
  }

  /** Commits and closes; the object is unusable afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flushHashes();
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }

  // ---- block hashes ----

  /** For NodeView: whether the inode has hashes per the unflushed cache (undefined: ask the row). */
  cachedHashed(key: string): boolean | undefined {
    const h = this.hashCache.get(key);
    return h === undefined ? undefined : h !== null;
  }

  hashesOf(key: string): FileHashes | undefined {
    const cached = this.hashCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.q.readHashes.get(key) as [number, number, number, Buffer] | undefined;
    if (!row) return undefined;
    return fileHashes({ blockSize: row[0], fileSize: row[1], digests: row[3] }, row[2]);
  }

  private flushHashes(): void {
    if (this.hashCache.size === 0) return;
    for (const [key, h] of this.hashCache) {
      if (this.q.inodeExists.get(key) === undefined) continue;
      if (h) this.q.writeHashes.run(key, h.blockSize, h.fileSize, h.hashedAtMs, h.digests);
      else this.q.deleteHashes.run(key);
      this.q.setHashed.run(h ? 1 : 0, key);
    }
    this.hashCache.clear();
    this.hashCacheBytes = 0;
  }

  private dropCachedHashes(key: string): void {
    const h = this.hashCache.get(key);
    if (h) this.hashCacheBytes -= h.digests.length;
    this.hashCache.delete(key);
  }

  private forgetInode(key: string): void {
    this.q.deleteInode.run(key);
    this.q.deleteHashes.run(key);
    this.dropCachedHashes(key);
  }
}
