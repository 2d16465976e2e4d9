// A mirror (or verify) run: walks the protected set, exchanges manifests with the target in batches and sends
// only what differs (whole files, or changed blocks), resuming from a cursor after any interruption.
import fs from 'node:fs/promises';
import fss from 'node:fs';
import { TandemError } from '../../shared/errors';
import { encodeFrameParts, FrameType, createByteCounter, type FrameByteCounter } from '../../shared/protocol/frames';
import { CompressionGate } from '../../shared/protocol/compression-gate';
import type { FileOp, ManifestEntry, FileMeta } from '../../shared/protocol/ops';
import type { MirrorStats, VerifyReport } from '../../shared/protocol/jobs';
import { hashFile, planBlockDelta, READ_NO_FOLLOW, splitRanges, type BlockHashes } from '../../shared/delta';
import type { RuleInput } from '../../shared/rules';
import type { PeerClient } from '../peer/client';
import { requestBytesFor } from '../peer/bandwidth';
import { ApplyAnswer, BlockHashesAnswer, ManifestAnswer, type BlockHashesRequest, type ManifestRequest, type Need } from '../../shared/protocol/data-port';
import { metaOf, walkProtectedSet, type WalkItem } from './walker';
import { isGone } from './capture/observe';

/** Data per frame for whole files and block ranges: 1 MiB streams through TLS better than larger pieces. */
export const CHUNK_BYTES = 1024 * 1024;
export const BATCH_ENTRIES = 512;
/** A batch is also cut once its files add up to this, so a resume never repeats much work. */
export const BATCH_BYTES = 32 * 1024 * 1024;
const VERIFY_PATHS_MAX = 1000;
/**
 * Files at least this large that need a block comparison get the target's digests in a request of their own, sent
 * before the source hashes its copy, so both agents read and hash at once (a 1 GiB file: ~0.8 s each here) instead
 * of the target first (answering the manifest) and the source after. Smaller ones come inline in the answer.
 */
export const DEFER_HASHES_FROM = 8 * 1024 * 1024;

export interface MirrorParams {
  jobId: string;
  mirrorId: string;
  purpose: 'mirror' | 'verify';
  rules: RuleInput[];
  mode: 'all' | 'different';
  newerOnly: boolean;
  blockChecksum: boolean;
  orphans: { action: 'keep' | 'delete' | 'move'; moveTo?: string };
  compression: number;
  peer: PeerClient;
  after: string | null;
  /** Files whose content is compared even when size and time match (changes to them were lost with the queue). */
  checkContent?: ReadonlySet<string>;
  stats: MirrorStats;
  verify?: VerifyReport;
  signal: AbortSignal;
  /** Called after each acknowledged batch with the new cursor. */
  onBatch: (cursor: string | null) => Promise<void>;
  /** Wraps each batch's reading and sending (the source holds replication meanwhile). */
  aroundBatch?: <T>(send: () => Promise<T>) => Promise<T>;
  /**
   * Paths the mirror did not send because they were gone when it came to them (told after each batch). Whatever was
   * there may have been moved to a place the mirror has passed, which it will not come back to.
   */
  onMissed?: (paths: string[]) => void;
  /**
   * The target takes a directory's names in parts (it said so in its hello): a large directory's names are then sent
   * at most this many per request (true: 100,000; a test sets a number to see the parts). Otherwise in one request.
   */
  dirNameParts?: boolean | number;
  /** A path the walk could not look at or list: left out, the target's copy kept (the change capture warns of it). */
  onUnreadable?: (path: string, err: unknown) => void;
}

export function emptyMirrorStats(mirrorId: string | null): MirrorStats {
  return {
    mirrorId, filesTotal: null, bytesTotal: null, filesSent: 0, bytesSent: 0, filesSkipped: 0, bytesSkipped: 0,
    wireRawBytes: 0, wireCompressedBytes: 0, startedAt: null, completedAt: null, throughputBps: 0, orphansFound: 0, orphansRemoved: 0,
  };
}

type Outgoing = { op: FileOp; payload?: Buffer } | { read: { path: string; offset: number; length: number; op: FileOp } };

/** Files up to this size are read in one synchronous call (a page-cache copy, cheaper than a thread-pool trip). */
const SMALL_FILE_BYTES = 256 * 1024;
/**
 * A directory's names go to the target in parts of at most this many names and bytes: the names of a directory of
 * millions of files would outgrow one request (the data port takes 32 MiB of JSON).
 */
const DIR_NAMES_PER_REQUEST = 100_000;
const DIR_NAME_BYTES_PER_REQUEST = 8 * 1024 * 1024;

/** Cuts `names` into parts of at most `maxNames` names and about `maxBytes` bytes; at least one part, maybe empty. */
export function splitNames(names: string[], maxNames: number, maxBytes: number): string[][] {
  const parts: string[][] = [];
  let part: string[] = [];
  let bytes = 0;
  for (const name of names) {
    const size = Buffer.byteLength(name) + 4; // quotes, comma, and room for escapes
    if (part.length && (part.length >= maxNames || bytes + size > maxBytes)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(name);
    bytes += size;
  }
  parts.push(part);
  return parts;
}

/** Small frames are sent in buffers of about this size (fewer TLS records and socket writes). */
const COALESCE_BYTES = 256 * 1024;

const readAsync = (fd: number, buf: Buffer, position: number) =>
  new Promise<number>((resolve, reject) => fss.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));

/** A file opened for sending, with what it is now (size, metadata, other names). Null when it is gone. */
export function openNow(path: string): { fd: number; st: fss.BigIntStats } | null {
  let fd: number;
  try {
    fd = fss.openSync(path, READ_NO_FOLLOW);
  } catch (err) {
    if (isGone(err)) return null; // deleted, or something else there since the walk: replication sends what it is
    throw err;
  }
  const st = fss.fstatSync(fd, { bigint: true });
  if (!st.isFile()) { // a FIFO, socket or device there since the walk: not this file, and never read
    fss.closeSync(fd);
    return null;
  }
  return { fd, st };
}

/**
 * The file's content and metadata as they are when it is read, not as the walk saw them: replication may already
 * have brought the target a newer state than the walk's (a change made meanwhile, sent again whole because the
 * target lacked the file then), and a copy capped at the walked size with the walked time would put older data
 * back over it. Whatever changes after this read reaches the target after this batch, through replication.
 */
async function* readChunks(path: string, fd: number, st: fss.BigIntStats): AsyncGenerator<{ op: Extract<FileOp, { op: 'file' }>; payload: Buffer }> {
  const meta = metaOf(st);
  const size = Number(st.size);
  if (size <= SMALL_FILE_BYTES) {
    const buf = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const r = fss.readSync(fd, buf, n, size - n, n);
      if (r === 0) break;
      n += r;
    }
    yield { op: { op: 'file', path, offset: 0, final: true, size: n, meta }, payload: buf.subarray(0, n) };
    return;
  }
  let offset = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size - offset, 1)));
    const bytesRead = await readAsync(fd, buf, offset);
    const final = bytesRead < buf.length || offset + bytesRead >= size;
    yield { op: { op: 'file', path, offset, final, size: offset + bytesRead, meta }, payload: buf.subarray(0, bytesRead) };
    offset += bytesRead;
    if (final) return;
  }
}

/** Joins small frame parts into larger buffers; large parts pass through without a copy. */
export async function* coalesce(parts: AsyncIterable<Buffer>, target = COALESCE_BYTES): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const part of parts) {
    if (part.length >= target) {
      if (heldBytes) { yield held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes); held = []; heldBytes = 0; }
      yield part;
      continue;
    }
    held.push(part);
    heldBytes += part.length;
    if (heldBytes >= target) { yield Buffer.concat(held, heldBytes); held = []; heldBytes = 0; }
  }
  if (heldBytes) yield held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
}

/** A range of the file at `path`; null when the file is no longer there (or a symlink is, which is never followed). */
export async function readRange(path: string, offset: number, length: number): Promise<Buffer | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, READ_NO_FOLLOW);
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) return null; // a FIFO, socket or device there now: not the file
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** What a walked path is now (ops are sent a while after the walk): its type and inode, or null when it is gone. */
function currentState(path: string): { type: 'file' | 'dir' | 'symlink' | 'other'; ino: number; dev: number; nlink: number; meta: FileMeta } | null {
  const st = fss.lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (!st) return null;
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { type, ino: Number(st.ino), dev: Number(st.dev), nlink: Number(st.nlink), meta: metaOf(st) };
}

type CurrentState = NonNullable<ReturnType<typeof currentState>>;
type BlocksNeed = Extract<Need, { action: 'blocks' }>;

/** Both sides' digests of a file that needs a block comparison; `before`: the source file as of before its read. */
interface BlockComparison {
  before: CurrentState | null;
  /** Null when the source file was gone (or no longer a file) by the time it was read. */
  source: BlockHashes | null;
  target: BlockHashes;
}

export class MirrorRun {
  readonly wire: FrameByteCounter = createByteCounter();
  private readonly gate = new CompressionGate();
  private startedMs = Date.now();
  private readonly missedPaths: string[] = [];
  private bytesAtStart: number;

  constructor(private p: MirrorParams) {
    this.bytesAtStart = p.stats.bytesSent;
    p.stats.startedAt ??= Date.now();
  }

  private updateThroughput() {
    const secs = (Date.now() - this.startedMs) / 1000;
    if (secs > 0.2) this.p.stats.throughputBps = Math.round((this.p.stats.bytesSent - this.bytesAtStart) / secs);
  }

  /**
   * Walks the set in batches and keeps one batch ahead: the next batch's walk and manifest exchange run while
   * the current batch streams, so neither agent waits for the other between batches. Batches are still sent
   * (and their cursor saved) strictly in order.
   */
  async run(): Promise<void> {
    let sending: Promise<void> | null = null;
    try {
      for await (const batch of this.batches()) {
        if (this.p.signal.aborted) break;
        const check = this.p.checkContent;
        const entries = batch.filter((b): b is Extract<WalkItem, { kind: 'entry' }> => b.kind === 'entry')
          .map((b) => (check?.has(b.entry.path) && b.entry.type === 'file' ? { ...b.entry, checkContent: true as const } : b.entry));
        const res = await this.manifest(batch, entries);
        if (sending) await sending;
        sending = null;
        if (this.p.signal.aborted) break;
        sending = this.send(batch, entries, res);
        // A failed send surfaces at the next await of `sending`; keep it from being reported as unhandled meanwhile.
        sending.catch(() => {});
      }
      if (sending) await sending;
    } finally {
      await sending?.catch(() => {});
    }
    if (this.p.signal.aborted) return;
    this.p.stats.completedAt = Date.now();
    if (this.p.verify) this.p.verify.completedAt = Date.now();
    this.updateThroughput();
  }

  private async *batches(): AsyncGenerator<WalkItem[]> {
    let batch: WalkItem[] = [];
    let entries = 0;
    let bytes = 0;
    const onVanished = (p: string) => this.missed(p);
    // Under a bandwidth limit a batch is cut at about ten seconds' worth (read once per batch, not per entry).
    let maxBytes = requestBytesFor(this.p.peer.limit.rate(), BATCH_BYTES);
    for await (const item of walkProtectedSet(this.p.rules, { after: this.p.after, signal: this.p.signal, onVanished, onUnreadable: this.p.onUnreadable })) {
      if (this.p.signal.aborted) return;
      batch.push(item);
      if (item.kind !== 'entry') continue;
      entries++;
      bytes += item.entry.size;
      if (entries >= BATCH_ENTRIES || bytes >= maxBytes) {
        yield batch;
        batch = [];
        entries = 0;
        bytes = 0;
        maxBytes = requestBytesFor(this.p.peer.limit.rate(), BATCH_BYTES);
      }
    }
    if (batch.length) yield batch;
  }

  private async manifest(batch: WalkItem[], entries: ManifestEntry[]): Promise<ManifestAnswer> {
    const done = batch.filter((b): b is Extract<WalkItem, { kind: 'dirDone' }> => b.kind === 'dirDone');
    const base = {
      mirrorId: this.p.mirrorId, purpose: this.p.purpose, mode: this.p.purpose === 'verify' ? 'different' as const : this.p.mode,
      newerOnly: this.p.newerOnly, blockChecksum: this.p.blockChecksum, orphans: this.p.orphans,
    };
    const url = `/v1/data/manifest?job=${encodeURIComponent(this.p.jobId)}`;
    const dirs: ManifestRequest['dirs'] = [];
    for (const d of done) {
      // A large directory's names go first in parts of their own, the last part with this batch (see ManifestRequest).
      const perRequest = this.p.dirNameParts;
      const parts = perRequest ? splitNames(d.names, perRequest === true ? DIR_NAMES_PER_REQUEST : perRequest, DIR_NAME_BYTES_PER_REQUEST) : [d.names];
      for (const names of parts.slice(0, -1)) {
        const partReq: ManifestRequest = { ...base, entries: [], dirs: [{ path: d.path, names, more: true }] };
        await this.p.peer.json(url, partReq, ManifestAnswer, this.p.signal);
      }
      dirs.push({ path: d.path, names: parts.at(-1)! });
    }
    const req: ManifestRequest = { ...base, entries, dirs, ...(this.p.blockChecksum ? { deferHashesFrom: DEFER_HASHES_FROM } : {}) };
    const res = await this.p.peer.json(url, req, ManifestAnswer, this.p.signal);
    if (res.needs.length !== entries.length) {
      throw new TandemError('peer_protocol', `The target answered ${res.needs.length} needs for a manifest of ${entries.length} entries; the batch is asked again.`, 502);
    }
    return res;
  }

  private async send(batch: WalkItem[], entries: ManifestEntry[], res: ManifestAnswer): Promise<void> {
    this.p.stats.orphansFound += res.orphans.found;
    this.p.stats.orphansRemoved += res.orphans.removed + res.orphans.moved;
    if (this.p.purpose === 'verify') {
      await this.tallyVerify(entries, res);
    } else {
      const send = async () => {
        const compared = await this.compareDeferred(entries, res.needs);
        return this.p.peer.stream(`/v1/data/apply?job=${encodeURIComponent(this.p.jobId)}`, coalesce(this.framesFor(batch, entries, res.needs, compared)), ApplyAnswer, this.p.signal);
      };
      // The counts grow as the batch streams (progress while it is sent); a batch that fails is sent again from the
      // cursor, so what it counted is taken back: otherwise every retry counts it again, up to "100%" with most of
      // the set still missing on the target.
      const s = this.p.stats;
      const before = { filesSent: s.filesSent, bytesSent: s.bytesSent, filesSkipped: s.filesSkipped, bytesSkipped: s.bytesSkipped };
      try {
        await (this.p.aroundBatch ? this.p.aroundBatch(send) : send());
      } catch (err) {
        Object.assign(s, before);
        throw err;
      }
      this.p.stats.wireRawBytes = this.p.stats.wireRawBytes + this.wire.rawBytes;
      this.p.stats.wireCompressedBytes = this.p.stats.wireCompressedBytes + this.wire.wireBytes;
      this.wire.rawBytes = 0;
      this.wire.wireBytes = 0;
      this.wire.frames = 0;
    }
    this.updateThroughput();
    const last = entries.at(-1)?.path ?? null;
    await this.p.onBatch(last);
    if (this.missedPaths.length) this.p.onMissed?.(this.missedPaths.splice(0));
  }

  /** `path` was gone when the mirror came to it: it sent nothing for it. */
  private missed(path: string): void {
    if (this.p.purpose === 'mirror' && this.p.onMissed) this.missedPaths.push(path);
  }

  private encode(op: FileOp, payload?: Buffer): Buffer[] {
    return encodeFrameParts({ type: FrameType.fileOp, header: op, payload }, { compressLevel: this.p.compression, counter: this.wire, gate: this.gate }).parts;
  }

  /**
   * Compares a file's blocks: the target's digests come inline in the manifest answer, or (large files) are asked for
   * while the source hashes its own copy. The source's state is taken before its read, as the meta to send.
   */
  private async compareBlocks(path: string, need: BlocksNeed, opts: { unreadableAsGone?: boolean } = {}): Promise<BlockComparison> {
    const deferred = need.digests === undefined
      ? this.p.peer.json(`/v1/data/hashes?job=${encodeURIComponent(this.p.jobId)}`, { path, blockSize: need.blockSize } satisfies BlockHashesRequest, BlockHashesAnswer, this.p.signal)
      : null;
    deferred?.catch(() => {}); // awaited below; not unhandled while the source hashes
    const before = currentState(path);
    let source: BlockHashes | null = null;
    if (before?.type === 'file') {
      try {
        source = await hashFile(path, { blockSize: need.blockSize });
      } catch (err) {
        if (!isGone(err) && !opts.unreadableAsGone) throw err;
      }
    }
    const t = deferred ? await deferred : { fileSize: need.fileSize, digests: need.digests! };
    return { before, source, target: { blockSize: need.blockSize, fileSize: t.fileSize, digests: Buffer.from(t.digests, 'base64') } };
  }

  /** The block comparisons of a batch's large files, made before its stream opens (see DEFER_HASHES_FROM). */
  private async compareDeferred(entries: ManifestEntry[], needs: Need[]): Promise<Map<string, BlockComparison>> {
    const out = new Map<string, BlockComparison>();
    for (const [i, need] of needs.entries()) {
      if (need.action === 'blocks' && need.digests === undefined) out.set(entries[i]!.path, await this.compareBlocks(entries[i]!.path, need));
    }
    return out;
  }

  private async *framesFor(batch: WalkItem[], entries: ManifestEntry[], needs: Need[], compared: Map<string, BlockComparison>): AsyncGenerator<Buffer> {
    const needByPath = new Map(entries.map((e, i) => [e.path, needs[i]!]));
    const s = this.p.stats;
    for (const item of batch) {
      if (item.kind === 'dirDone') {
        // Directory times last: writing its children changed them. As the directory is now (see readChunks).
        const dir = currentState(item.path);
        if (dir?.type === 'dir') yield* this.encode({ op: 'meta', path: item.path, meta: dir.meta });
        continue;
      }
      const e = item.entry;
      let need = needByPath.get(e.path)!;
      const countFile = e.type === 'file';
      // Operations that read nothing are checked against the source as it is now: a directory, link or name the walk
      // saw may have been moved or removed since, and replication (whose operations the target applies after this
      // batch) has already sent that; a stale mkdir would bring back on the target a directory the source no longer has.
      let metaNow = e.meta;
      if (need.action === 'mkdir' || need.action === 'symlink' || need.action === 'hardlink' || need.action === 'meta') {
        const now = currentState(e.path);
        if (!now) this.missed(e.path);
        if (!now || now.type !== e.type) continue;
        metaNow = now.meta;
        if (need.action === 'hardlink') {
          const first = currentState(e.linkOf!);
          // Its other name is gone from where the walk saw it: the target cannot link to it, so the file goes whole.
          if (!first || first.ino !== now.ino || first.dev !== now.dev) need = { action: e.type === 'symlink' ? 'symlink' : 'whole', reason: 'link_moved' };
        }
      }
      switch (need.action) {
        case 'skip':
          if (countFile) { s.filesSkipped++; s.bytesSkipped += e.size; }
          break;
        case 'mkdir':
          yield* this.encode({ op: 'mkdir', path: e.path, meta: e.meta });
          break;
        case 'symlink':
          yield* this.encode({ op: 'symlink', path: e.path, target: e.target ?? '', meta: e.meta });
          break;
        case 'hardlink':
          yield* this.encode({ op: 'hardlink', path: e.path, existing: e.linkOf! });
          if (countFile) s.filesSent++;
          break;
        case 'meta':
          yield* this.encode({ op: 'meta', path: e.path, meta: metaNow });
          s.filesSkipped++; s.bytesSkipped += e.size;
          break;
        case 'whole': {
          const file = openNow(e.path);
          if (!file) {
            this.missed(e.path);
            break;
          }
          if (!file.st.isFile()) { fss.closeSync(file.fd); break; } // no longer a file: replication sends what it is
          // A file with other names (which replication may already have linked on the target) is rewritten in
          // place: a whole-file op lands as a temp file renamed over this name, splitting it from those names there.
          const inPlace = file.st.nlink > 1n;
          try {
            for await (const chunk of readChunks(e.path, file.fd, file.st)) {
              if (!inPlace) yield* this.encode(chunk.op, chunk.payload);
              else {
                if (chunk.op.offset === 0) yield* this.encode({ op: 'truncate', path: e.path, size: 0 });
                yield* this.encode({ op: 'write', path: e.path, offset: chunk.op.offset }, chunk.payload);
              }
              s.bytesSent += chunk.payload.length;
            }
            if (inPlace) yield* this.encode({ op: 'meta', path: e.path, meta: metaOf(file.st) });
            s.filesSent++;
          } finally {
            fss.closeSync(file.fd);
          }
          break;
        }
        case 'blocks': {
          // `before`: its time as of before the read (a change during the read sends its own).
          const { before, source, target } = compared.get(e.path) ?? await this.compareBlocks(e.path, need);
          if (!before || (before.type === 'file' && !source)) this.missed(e.path);
          if (!before || before.type !== 'file' || !source) break;
          const plan = planBlockDelta(source, target);
          let gone = false;
          for (const r of splitRanges(plan.ranges, CHUNK_BYTES)) {
            const data = await readRange(e.path, r.offset, r.length);
            if (!data) { gone = true; break; }
            yield* this.encode({ op: 'write', path: e.path, offset: r.offset }, data);
          }
          if (gone) {
            this.missed(e.path); // the blocks sent so far are mended when replication sends it again
            break;
          }
          if (plan.truncate || target.fileSize !== plan.finalSize) yield* this.encode({ op: 'truncate', path: e.path, size: plan.finalSize });
          yield* this.encode({ op: 'meta', path: e.path, meta: before.meta });
          s.bytesSent += plan.bytesToSend;
          s.bytesSkipped += Math.max(0, e.size - plan.bytesToSend);
          if (plan.bytesToSend > 0 || plan.truncate) s.filesSent++;
          else s.filesSkipped++;
          break;
        }
      }
    }
  }

  private async tallyVerify(entries: ManifestEntry[], res: ManifestAnswer): Promise<void> {
    const v = this.p.verify!;
    v.orphansOnTarget += res.orphans.found;
    for (const path of res.orphans.paths) {
      if (v.paths.length < VERIFY_PATHS_MAX) v.paths.push({ path, reason: 'only on the target (orphan)' });
      else v.truncated = true;
    }
    for (const [i, e] of entries.entries()) {
      const need = res.needs[i]!;
      // Directory times move whenever their contents change; verification is about files and links.
      if (e.type === 'dir') continue;
      if (e.type === 'file') v.filesCompared++;
      let reason: string | null = null;
      if (need.action === 'blocks') {
        // A source file it cannot read is not reported as differing (as before the digests could be deferred).
        const { source, target } = await this.compareBlocks(e.path, need, { unreadableAsGone: true });
        if (source) {
          const plan = planBlockDelta(source, target);
          if (plan.bytesToSend > 0 || plan.truncate) reason = `${plan.changedBlocks} of ${plan.totalBlocks} blocks differ`;
        }
      } else if (need.action !== 'skip') {
        reason = need.reason;
      }
      if (!reason) {
        if (e.type === 'file') v.identical++;
        continue;
      }
      if (need.reason === 'missing') v.missingOnTarget++;
      else v.different++;
      if (v.paths.length < VERIFY_PATHS_MAX) v.paths.push({ path: e.path, reason });
      else v.truncated = true;
    }
  }
}
