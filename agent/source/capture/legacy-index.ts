// Reads the capture index an earlier version wrote (NDJSON snapshot + journal, and hash files for larger files'
// block hashes) into the database-backed model, once, so an upgraded agent still finds the changes made while it
// was down instead of taking a fresh baseline. Layout under the index dir:
//   tree.snapshot  NDJSON, one line per path (header line first)
//   tree.journal   NDJSON appended after batches: the current state of each changed path, small block hashes inline
//   hashes/<dev>-<ino>  block hashes of a larger file (hash-codec's binary form)
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOCK_DIGEST_BYTES, blockCount } from '../../../shared/delta';
import { decodeHashes, fileHashes, type FileHashes } from './hash-codec';
import type { TreeIndex } from './tree-index';
import type { EntryKind, Observed } from './types';

const HEADER = { v: 1, format: 'tandem-capture-index' };
const LEGACY_FILES = ['tree.snapshot', 'tree.journal', 'tree.snapshot.tmp', 'hashes'];

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
  if (line.x || typeof line.p !== 'string' || line.k === undefined || line.t === undefined) return null;
  return {
    key: line.k, kind: line.t, size: line.s ?? 0, mtimeMs: line.m ?? 0, ctimeMs: line.c ?? 0, mode: line.o ?? 0,
    uid: line.u ?? 0, gid: line.g ?? 0, nlink: line.n ?? 1, ...(line.l !== undefined ? { target: line.l } : {}),
  };
}

function* parseLines(text: string): Generator<EntryLine> {
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    try {
      yield JSON.parse(raw) as EntryLine;
    } catch {
      return; // torn tail after a crash: everything before it is good
    }
  }
}

/**
 * Replays an old-format index into `tree` (which must be empty). False when there is none, or its header is not
 * one this reader knows (then nothing is imported).
 */
export async function importLegacyIndex(dir: string, tree: TreeIndex): Promise<boolean> {
  const snapshot = await readFile(join(dir, 'tree.snapshot'), 'utf8').catch(ignoreMissing);
  const journal = await readFile(join(dir, 'tree.journal'), 'utf8').catch(ignoreMissing);
  if (snapshot === undefined && journal === undefined) return false;
  const snapLines = parseLines(snapshot ?? '');
  if (snapshot !== undefined) {
    const header = snapLines.next().value as unknown as typeof HEADER | undefined;
    if (header?.v !== HEADER.v || header.format !== HEADER.format) return false;
  }
  const replay = (line: EntryLine): void => {
    const obs = fromLine(line);
    const cur = tree.get(line.p);
    if (obs && cur?.key === obs.key) tree.setStat(obs);
    else {
      if (cur) tree.removeName(line.p);
      if (obs) tree.add(line.p, obs);
    }
    // Each line carries its file's whole state: no inline hashes means none, or a hash file (read below).
    if (obs?.kind === 'file') tree.setHashes(obs.key, inlineHashes(line));
  };
  for (const line of snapLines) replay(line);
  for (const line of parseLines(journal ?? '')) replay(line);
  const hashFiles = await readdir(join(dir, 'hashes')).catch(ignoreMissing) ?? [];
  for (const name of hashFiles) {
    const key = name.replace('-', ':');
    const node = tree.node(key);
    if (node?.kind !== 'file' || node.hasHashes) continue; // inline hashes are newer than a leftover hash file
    const hashes = decodeHashes(await readFile(join(dir, 'hashes', name)).catch(ignoreMissing) ?? Buffer.alloc(0));
    if (hashes) tree.setHashes(key, hashes);
  }
  return true;
}

/** Removes the old format's files once their content is in the database. */
export async function removeLegacyIndex(dir: string): Promise<void> {
  for (const name of LEGACY_FILES) await rm(join(dir, name), { recursive: true, force: true });
}

function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}
