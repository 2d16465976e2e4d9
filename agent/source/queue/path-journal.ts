// The paths of the operations in the replication queue, kept on disk until the target acknowledges them and the
// capture's index, as committed to disk, records them.
//
// The queue's memory part does not survive a crash of the agent, and an exhausted queue is thrown away; either way
// the job repairs the target with a difference mirror, which sends what the source has but (with orphans kept, the
// default) leaves what the source no longer has. Operations already applied on the target may have created paths
// that later, lost operations removed or moved away on the source: those would stay on the target for good. This
// journal names every path an unacknowledged operation touched, so that the job can remove from the target the
// ones the source no longer has, and nothing else an operator keeps there.
//
// Acknowledged is not enough to forget: the capture commits its index about once a second, so after a kill the index
// can be older than what the target already applied. A file created and acknowledged since the last commit, then
// removed while the agent was down, is known to neither the index nor the rescan; only this journal still names it.
//
// Lines are `[seq, path, from?]` in JSON (any character of a path survives). A capture batch's lines are written
// (`flush`) when its ops are queued, before the capture's own index records the batch: whatever the index already
// knows when the agent dies, the journal knows too; what neither knows, the rescan after the restart finds. They are
// not fsynced: the journal is for the agent's crash, and a crash of the whole machine is a failover. A torn last
// line is skipped.
import fs from 'node:fs';
import path from 'node:path';

const SEGMENT_BYTES = 8 * 1024 * 1024;
const SEGMENT_NAME = /^(\d{16})\.paths$/;

interface Segment {
  file: string;
  /** Highest seq written to it (0: none yet). */
  lastSeq: number;
  bytes: number;
}

export class PathJournal {
  /** Oldest first; only the last one (opened by this process) is written to. */
  private segments: Segment[] = [];
  private fd: number | null = null;
  private buffered: string[] = [];
  private bufferedLastSeq = 0;
  private pinned = false;
  private ackedSeq = 0;
  private indexedSeq = 0;
  /** The last write error (disk full, …): the journal may lack entries from then on. */
  failure: string | null = null;

  private constructor(private readonly dir: string, private readonly segmentBytes: number) {}

  /** Opens the journal in `dir`, keeping what an earlier process left (read again by `pathsAfter`). */
  static open(dir: string, segmentBytes = SEGMENT_BYTES): PathJournal {
    fs.mkdirSync(dir, { recursive: true });
    const journal = new PathJournal(dir, segmentBytes);
    for (const name of fs.readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort()) {
      const file = path.join(dir, name);
      let lastSeq = 0;
      for (const e of readEntries(file)) lastSeq = Math.max(lastSeq, e.seq);
      journal.segments.push({ file, lastSeq, bytes: fs.statSync(file).size });
    }
    return journal;
  }

  /** Notes the paths operation `seq` touches (in memory until the next `flush`). */
  record(seq: number, paths: readonly string[]): void {
    this.buffered.push(JSON.stringify([seq, ...paths]) + '\n');
    this.bufferedLastSeq = seq;
  }

  /** Writes what was recorded. */
  flush(): void {
    if (!this.buffered.length) return;
    const text = this.buffered.join('');
    const lastSeq = this.bufferedLastSeq;
    this.buffered = [];
    try {
      let seg = this.fd === null ? undefined : this.segments.at(-1);
      if (!seg || seg.bytes >= this.segmentBytes) seg = this.startSegment(lastSeq);
      const bytes = Buffer.from(text);
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(this.fd!, bytes, done);
      seg.bytes += bytes.length;
      seg.lastSeq = Math.max(seg.lastSeq, lastSeq);
    } catch (err) {
      this.failure = `the journal of queued paths in ${this.dir} could not be written (${(err as Error).message})`;
    }
  }

  /** The target has every operation up to `seq`, durably. */
  acknowledged(seq: number): void {
    this.ackedSeq = Math.max(this.ackedSeq, seq);
    this.dropThrough(Math.min(this.ackedSeq, this.indexedSeq));
  }

  /** The capture's index is committed with the effects of every operation up to `seq`. */
  indexed(seq: number): void {
    this.indexedSeq = Math.max(this.indexedSeq, seq);
    this.dropThrough(Math.min(this.ackedSeq, this.indexedSeq));
  }

  /** Forgets the operations up to `seq` (acknowledged and indexed). Kept while pinned. */
  private dropThrough(seq: number): void {
    if (this.pinned || seq <= 0) return;
    while (this.segments.length && this.segments[0]!.lastSeq <= seq) {
      const seg = this.segments[0]!;
      const current = this.fd !== null && this.segments.length === 1;
      if (current && (this.buffered.length || seg.bytes === 0)) return; // unflushed lines, or already empty
      try {
        if (current) {
          fs.ftruncateSync(this.fd!, 0);
          seg.bytes = 0;
          seg.lastSeq = 0;
          return;
        }
        fs.unlinkSync(seg.file);
      } catch { /* left for the next drop; a stale entry only costs a check */ }
      this.segments.shift();
    }
  }

  /** Every distinct path of the operations after `seq` (all kept when the seq is unknown: a superset is harmless). */
  pathsAfter(seq: number, max = 1_000_000): { paths: string[]; complete: boolean } {
    this.flush();
    const paths = new Set<string>();
    for (const seg of this.segments) {
      if (seg.lastSeq <= seq) continue;
      for (const e of readEntries(seg.file)) {
        if (e.seq <= seq) continue;
        for (const p of e.paths) if (paths.size < max) paths.add(p);
      }
    }
    return { paths: [...paths], complete: paths.size < max && this.failure === null };
  }

  /** While pinned nothing is dropped: the paths read for a repair are kept until that repair has been queued. */
  pin(): void { this.pinned = true; }
  unpin(): void {
    this.pinned = false;
    this.dropThrough(Math.min(this.ackedSeq, this.indexedSeq));
  }

  /** Empties the journal (the queue was discarded by the operator: nothing is to be repaired). */
  clear(): void {
    this.buffered = [];
    this.pinned = false;
    for (const seg of this.segments.splice(0)) {
      try { fs.unlinkSync(seg.file); } catch { /* gone already */ }
    }
    this.closeFd();
  }

  close(): void {
    this.flush();
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd !== null) {
      try { fs.closeSync(this.fd); } catch { /* nothing to keep */ }
    }
    this.fd = null;
  }

  private startSegment(firstSeq: number): Segment {
    this.closeFd();
    const file = path.join(this.dir, `${String(firstSeq).padStart(16, '0')}.paths`);
    this.fd = fs.openSync(file, 'a');
    const seg = { file, lastSeq: 0, bytes: fs.fstatSync(this.fd).size };
    if (this.segments.at(-1)?.file === file) this.segments[this.segments.length - 1] = seg;
    else this.segments.push(seg);
    return seg;
  }
}

function* readEntries(file: string): Generator<{ seq: number; paths: string[] }> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a torn line (the agent died while writing it): its operation never left the process
    }
    if (!Array.isArray(entry) || typeof entry[0] !== 'number') continue;
    yield { seq: entry[0], paths: entry.slice(1).filter((p): p is string => typeof p === 'string') };
  }
}
