// Persists the capture's tree model and block hashes in the agent data dir, so a restart compares
// the disk with what was last sent instead of remirroring. Layout under indexDir:
//   tree.snapshot  NDJSON, one line per path (header line first)
//   tree.journal   NDJSON appended after batches: the current state of each changed path, with the block hashes
//                  of a small file inline (a million protected files must not mean a million hash files)
//   hashes/<dev>-<ino>  block hashes of a larger file: 'TBH1', blockSize u32, fileSize f64, hashedAtMs f64, digests
// The store may lag what was sent (it is written after ops are handed on, at most every
// persistIntervalMs), never lead it: a stale index only makes the next comparison send more.
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOCK_DIGEST_BYTES, blockCount } from '../../../shared/delta';
import { TreeIndex, fileHashes, type FileHashes, type TreeChanges, type TreeNode } from './tree-index';
import { SMALL_INDEX_DIGEST_BYTES, decodeHashes, encodeHashes } from './hash-codec';
import type { EntryKind, Observed } from './types';

const HEADER = { v: 1, format: 'tandem-capture-index' };
/** The journal is written in pieces of about this size (one string for a million lines would not fit). */
const WRITE_CHUNK_CHARS = 1 << 20;

interface EntryLine {
  p: string;
  k?: string;
  t?: EntryKind;
  s?: number;
  m?: number;
  c?: number;
  o?: number;
  u?: number;
  g?: number;
  n?: number;
  l?: string;
  /** Inline block hashes: [blockSize, fileSize, hashedAtMs, digests in base64]. */
  h?: [number, number, number, string];
  /** Present (true) when the path was removed. */
  x?: true;
}

/** A small block index lives in the file's index line, a larger one in a hash file. */
const isInline = (h: FileHashes): boolean => h.digests.length <= SMALL_INDEX_DIGEST_BYTES;

function toLine(path: string, node: TreeNode | undefined): string {
  const line: EntryLine = node
    ? { p: path, k: node.key, t: node.kind, s: node.size, m: node.mtimeMs, c: node.ctimeMs, o: node.mode, u: node.uid, g: node.gid, n: node.nlink }
    : { p: path, x: true };
  if (node?.target !== undefined) line.l = node.target;
  const h = node?.hashes;
  if (h && isInline(h)) line.h = [h.blockSize, h.fileSize, h.hashedAtMs, h.digests.toString('base64')];
  return JSON.stringify(line) + '\n';
}

/** Inline hashes of a line, or undefined when absent or malformed (which only means "no index" for that file). */
function inlineHashes(line: EntryLine): FileHashes | undefined {
  if (!Array.isArray(line.h) || line.h.length !== 4) return undefined;
  const [blockSize, fileSize, hashedAtMs, b64] = line.h;
  if (!Number.isInteger(blockSize) || blockSize <= 0 || !Number.isInteger(fileSize) || fileSize < 0 || typeof b64 !== 'string') return undefined;
  const digests = Buffer.from(b64, 'base64');
  if (digests.length !== blockCount(fileSize, blockSize) * BLOCK_DIGEST_BYTES) return undefined;
  return fileHashes({ blockSize, fileSize, digests }, hashedAtMs);
}

function fromLine(line: EntryLine): Observed | null {
  if (line.x || line.k === undefined || line.t === undefined) return null;
  return {
    key: line.k, kind: line.t, size: line.s ?? 0, mtimeMs: line.m ?? 0, ctimeMs: line.c ?? 0, mode: line.o ?? 0,
    uid: line.u ?? 0, gid: line.g ?? 0, nlink: line.n ?? 1, ...(line.l !== undefined ? { target: line.l } : {}),
  };
}

function parseLines(text: string): EntryLine[] {
  const out: EntryLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    try {
      out.push(JSON.parse(raw) as EntryLine);
    } catch {
      break; // torn tail after a crash: everything before it is good
    }
  }
  return out;
}

export interface LoadedIndex {
  tree: TreeIndex;
  /** False when there was no index (first start, or it was discarded). */
  found: boolean;
}

export class IndexStore {
  private journalLines = 0;
  /** Keys that have a hash file, so a file that lost its hashes is unlinked only when there is something to unlink. */
  private hashFiles = new Set<string>();

  constructor(private readonly dir: string) {}

  private get snapshotPath(): string {
    return join(this.dir, 'tree.snapshot');
  }

  private get journalPath(): string {
    return join(this.dir, 'tree.journal');
  }

  private hashPath(key: string): string {
    return join(this.dir, 'hashes', key.replace(':', '-'));
  }

  async load(): Promise<LoadedIndex> {
    await mkdir(join(this.dir, 'hashes'), { recursive: true });
    this.hashFiles = new Set((await readdir(join(this.dir, 'hashes'))).map((name) => name.replace('-', ':')));
    const tree = new TreeIndex();
    const snapshot = await readFile(this.snapshotPath, 'utf8').catch(ignoreMissing);
    const journal = await readFile(this.journalPath, 'utf8').catch(ignoreMissing);
    if (snapshot === undefined && journal === undefined) return { tree, found: false };
    const snapLines = snapshot === undefined ? [] : parseLines(snapshot);
    const header = snapLines.shift() as unknown as typeof HEADER | undefined;
    if (snapshot !== undefined && (header?.v !== HEADER.v || header.format !== HEADER.format)) {
      return { tree, found: false };
    }
    for (const line of [...snapLines, ...parseLines(journal ?? '')]) {
      const obs = fromLine(line);
      const cur = tree.get(line.p);
      if (obs && cur?.key === obs.key) tree.setStat(obs);
      else {
        if (cur) tree.removeName(line.p);
        if (obs) tree.add(line.p, obs);
      }
      // Each line carries its file's whole state: no inline hashes means none, or a hash file (read below).
      if (obs?.kind === 'file') tree.setHashes(obs.key, inlineHashes(line));
    }
    // A hash file left behind by a crash between a line gaining inline hashes and the file's unlink.
    const stale = [...this.hashFiles].filter((key) => tree.node(key)?.hasHashes);
    await runLimited(stale, 16, async (key) => {
      this.hashFiles.delete(key);
      await unlink(this.hashPath(key)).catch(ignoreMissing);
    });
    const files = [...tree.entries()].filter(([, n]) => n.kind === 'file' && !n.hasHashes && this.hashFiles.has(n.key)).map(([, n]) => n);
    const seen = new Set<string>();
    await runLimited(files, 32, async (node) => {
      if (seen.has(node.key)) return;
      seen.add(node.key);
      const buf = await readFile(this.hashPath(node.key)).catch(ignoreMissing);
      const hashes = buf && decodeHashes(buf);
      if (hashes) node.hashes = hashes;
    });
    tree.takeChanges();
    await this.compact(tree);
    return { tree, found: true };
  }

  /** Writes what changed since the last call; compacts the journal when it outgrows the tree. */
  async persist(tree: TreeIndex, changes: TreeChanges): Promise<void> {
    // A file whose stat or hashes changed is journaled under each of its names (its line carries small hashes).
    const paths = new Set(changes.paths);
    for (const key of changes.keys) for (const p of tree.node(key)?.paths ?? []) paths.add(p);
    if (this.journalLines + paths.size > 10_000 && this.journalLines + paths.size > tree.size) {
      await this.compact(tree); // the journal would outgrow the tree (a baseline): write the snapshot instead
    } else if (paths.size > 0) {
      await this.appendJournal(tree, paths);
    }
    await runLimited(changes.keys, 16, async (key) => {
      const hashes = tree.node(key)?.hashes;
      if (hashes && !isInline(hashes)) {
        await writeFile(this.hashPath(key), encodeHashes(hashes));
        this.hashFiles.add(key);
      } else if (this.hashFiles.delete(key)) {
        await unlink(this.hashPath(key)).catch(ignoreMissing);
      }
    });
  }

  private async appendJournal(tree: TreeIndex, paths: Iterable<string>): Promise<void> {
    const fh = await open(this.journalPath, 'a');
    try {
      let chunk = '';
      for (const p of paths) {
        chunk += toLine(p, tree.get(p));
        this.journalLines++;
        if (chunk.length > WRITE_CHUNK_CHARS) {
          await fh.write(chunk);
          chunk = '';
        }
      }
      if (chunk) await fh.write(chunk);
    } finally {
      await fh.close();
    }
  }

  /** Rewrites the snapshot from the tree and empties the journal. */
  async compact(tree: TreeIndex): Promise<void> {
    const tmp = this.snapshotPath + '.tmp';
    const fh = await open(tmp, 'w');
    try {
      let chunk = JSON.stringify(HEADER) + '\n';
      for (const [path, node] of tree.entries()) {
        chunk += toLine(path, node);
        if (chunk.length > WRITE_CHUNK_CHARS) {
          await fh.write(chunk);
          chunk = '';
        }
      }
      await fh.write(chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.snapshotPath);
    await writeFile(this.journalPath, '');
    this.journalLines = 0;
  }

  /** Forgets everything (the next start builds a fresh baseline). */
  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(join(this.dir, 'hashes'), { recursive: true });
    this.journalLines = 0;
    this.hashFiles.clear();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
