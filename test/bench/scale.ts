// Scale benchmark (issue 3: "1 million files must mirror with bounded memory"): a tree of 1,000,000 small files
// (× TANDEM_BENCH_SCALE; 1,000 per directory), mirrored by a files job; prints the mirror's time and rate and
// the agents' resident memory when the mirror is a tenth done and at the end, so growth with the file count
// shows. Opt-in (`npm run bench -- scale`): generating, mirroring and deleting two million files takes minutes.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SCALE, figure, note, peakRssMiB, rmrf, rssMiB, settleDisk } from './common';
import { startWarmCluster, stopCluster, createJob, waitJob, mirrored, filesJob, type Cluster } from './tandem';

const PER_DIR = 1000;
const FILE = Buffer.alloc(100, 'x');

/** `count` files of 100 bytes, PER_DIR per directory under 30 top-level directories, written from 8 directories at once. */
async function generateManyFiles(root: string, count: number): Promise<void> {
  const dirs = Math.ceil(count / PER_DIR);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let d = next++; d < dirs; d = next++) {
      const dir = path.join(root, `a${d % 30}`, `d${d}`);
      await fsp.mkdir(dir, { recursive: true });
      for (let i = 0; i < PER_DIR && d * PER_DIR + i < count; i++) await fsp.writeFile(path.join(dir, `file-number-${i}.txt`), FILE);
    }
  }));
}

export async function benchScale(): Promise<void> {
  const count = Math.max(1000, Math.round(1_000_000 * SCALE));
  const work = await fsp.mkdtemp('/tmp/tandem-bench-scale-');
  let c: Cluster | undefined;
  try {
    const src = path.join(work, 'src');
    let t = Date.now();
    await generateManyFiles(src, count);
    figure('scale.files', count);
    note(`generated ${count} files in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    c = await startWarmCluster(work);
    const pids = { source: c.source.child.pid, target: c.target.child.pid };
    figure('scale.source.rss_before_MiB', rssMiB(pids.source), 1);
    figure('scale.target.rss_before_MiB', rssMiB(pids.target), 1);
    await settleDisk();
    t = Date.now();
    const id = await createJob(c, filesJob('bench-scale', src, path.join(work, 'dst'), { compression: 'off' }));
    let tenth: { source: number; target: number } | undefined;
    let lastNote = Date.now();
    const done = await waitJob(c, 'mirror of many files', id, (j) => {
      const sent = (j.stats?.filesSent ?? 0) + (j.stats?.filesSkipped ?? 0);
      if (!tenth && sent >= count / 10) tenth = { source: rssMiB(pids.source), target: rssMiB(pids.target) };
      if (Date.now() - lastNote > (SCALE < 0.5 ? 3_000 : 30_000)) {
        lastNote = Date.now();
        note(`${((Date.now() - t) / 1000).toFixed(0)} s: ${sent} files mirrored; RSS source ${rssMiB(pids.source).toFixed(0)} MiB, target ${rssMiB(pids.target).toFixed(0)} MiB; files awaiting a block index ${j.stats?.replication?.capture?.filesAwaitingIndex ?? '-'}`);
      }
      return mirrored(j);
    }, 4 * 3_600_000, 500);
    const secs = (done.at - t) / 1000;
    figure('scale.mirror.seconds', secs);
    figure('scale.mirror.files_per_second', count / secs, 0);
    if (tenth) {
      figure('scale.source.rss_at_10pct_MiB', tenth.source, 1);
      figure('scale.target.rss_at_10pct_MiB', tenth.target, 1);
    }
    figure('scale.source.rss_end_MiB', rssMiB(pids.source), 1);
    figure('scale.target.rss_end_MiB', rssMiB(pids.target), 1);
    figure('scale.source.peak_rss_MiB', peakRssMiB(pids.source), 1);
    figure('scale.target.peak_rss_MiB', peakRssMiB(pids.target), 1);
    // The source builds a block-hash index of every file in the background, outside the mirror (until a file has
    // one, a change to it is sent whole): how long after the mirror's end it is complete (0 if it already was), and
    // the source's memory then.
    const indexed = await waitJob(c, 'block index of every file', id, (j) => j.stats?.replication?.capture?.filesAwaitingIndex === 0, 4 * 3_600_000, 1000);
    figure('scale.block_index.seconds_after_mirror', (indexed.at - done.at) / 1000);
    figure('scale.source.rss_indexed_MiB', rssMiB(pids.source), 1);
    figure('scale.source.peak_rss_indexed_MiB', peakRssMiB(pids.source), 1);
    const missing = await firstMissing(src, path.join(work, 'dst'), count);
    if (missing) figure('scale.mirror.ERROR', `missing on the target: ${missing}`);
  } finally {
    if (c) await stopCluster(c);
    const t = Date.now();
    await rmrf(work);
    note(`removed the scale tree in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
}

/** Checks that every generated file arrived with its content (a sample of directories is listed in full). */
async function firstMissing(src: string, dst: string, count: number): Promise<string | null> {
  const dirs = Math.ceil(count / PER_DIR);
  for (let d = 0; d < dirs; d += Math.max(1, Math.floor(dirs / 50))) {
    const rel = path.join(`a${d % 30}`, `d${d}`);
    const want = fs.readdirSync(path.join(src, rel)).sort();
    const got = fs.readdirSync(path.join(dst, rel)).sort();
    if (want.join('\n') !== got.join('\n')) return `${rel} (${got.length} of ${want.length} files)`;
    if (!fs.readFileSync(path.join(dst, rel, want[0]!)).equals(FILE)) return `${rel}/${want[0]} (content differs)`;
  }
  return null;
}
