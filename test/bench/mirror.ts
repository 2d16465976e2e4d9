// Mirror benchmark (issue 3): full mirror of a ~1 GiB tree of ~20,000 mixed-size files, a 1 GiB single file,
// and a difference mirror after 1% of the large file's blocks changed; each against rsync through an rsync
// daemon on 127.0.0.1 in the same run; and the agents' peak RSS.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  SCALE, GiB, MiB, figure, note, ratio, ensureTool, generateTree, writeRandomFile, randomFillP, seededRandom,
  peakRssMiB, settleDisk, rmrf, sleep,
} from './common';
import { startRsyncDaemon, runRsync, type RsyncDaemon } from './rsync-daemon';
import { startWarmCluster, stopCluster, createJob, waitJob, mirrored, filesJob, deleteJob, isoMs, type Cluster } from './tandem';
import { floorCopy, floorTransport } from './floor-copy';

const MB = 1e6; // figures in MB/s use decimal megabytes, like rsync's own bytes/sec

/** Same rule as Tandem's and rsync's block size for a file: about sqrt(size), here a power of two (4 KiB..1 MiB). */
function deltaBlockSize(size: number): number {
  const pow2 = 2 ** Math.ceil(Math.log2(Math.sqrt(Math.max(size, 1))));
  return Math.min(MiB, Math.max(4096, pow2));
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Cheap check that a copy is complete: same file count and total bytes, and a sample of files identical. */
async function sameTree(a: string, b: string): Promise<string | null> {
  const list = async (root: string) => {
    const out = new Map<string, number>();
    for (const e of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || e.name.startsWith('.')) continue;
      const p = path.join(e.parentPath, e.name);
      out.set(path.relative(root, p), (await fs.stat(p)).size);
    }
    return out;
  };
  const [la, lb] = await Promise.all([list(a), list(b)]);
  if (la.size !== lb.size) return `${lb.size} files instead of ${la.size}`;
  let i = 0;
  for (const [rel, size] of la) {
    if (lb.get(rel) !== size) return `${rel}: size ${lb.get(rel)} instead of ${size}`;
    if (i++ % 97 === 0 && !(await fs.readFile(path.join(a, rel))).equals(await fs.readFile(path.join(b, rel)))) return `${rel}: content differs`;
  }
  return null;
}

/** Overwrites `fraction` of the file's blocks, scattered (distinct random block indices), with new random bytes. */
async function changeBlocks(file: string, fraction: number): Promise<{ blocks: number; bytes: number; blockSize: number }> {
  const size = (await fs.stat(file)).size;
  const blockSize = deltaBlockSize(size);
  const total = Math.floor(size / blockSize);
  const n = Math.max(1, Math.round(total * fraction));
  const rnd = seededRandom(4242);
  const picked = new Set<number>();
  while (picked.size < n) picked.add(Math.floor(rnd() * total));
  const fh = await fs.open(file, 'r+');
  const buf = Buffer.allocUnsafe(blockSize);
  try {
    for (const b of [...picked].sort((x, y) => x - y)) {
      await randomFillP(buf);
      await fh.write(buf, 0, blockSize, b * blockSize);
    }
  } finally {
    await fh.close();
  }
  return { blocks: n, bytes: n * blockSize, blockSize };
}

export async function benchMirror(): Promise<void> {
  const rsyncSkip = ensureTool('rsync');
  if (rsyncSkip) figure('rsync.skipped', rsyncSkip);
  const work = await fs.mkdtemp('/tmp/tandem-bench-mirror-');
  let c: Cluster | undefined;
  let daemon: RsyncDaemon | undefined;
  try {
    const files = Math.max(100, Math.round(20_000 * SCALE));
    const treeBytes = Math.round(GiB * SCALE);
    const bigBytes = Math.max(16 * MiB, Math.round(GiB * SCALE));
    const src = path.join(work, 'tree-src');
    const bigSrc = path.join(work, 'big-src');
    const dirs = { treeTandem: 'tree-tandem', treeRsync: 'tree-rsync', treeFloor: 'tree-floor', bigTandem: 'big-tandem', bigRsync: 'big-rsync' };
    for (const d of [src, bigSrc, ...Object.values(dirs).map((d) => path.join(work, d))]) await fs.mkdir(d, { recursive: true });

    let t = Date.now();
    const gen = await generateTree(src, files, treeBytes);
    await writeRandomFile(path.join(bigSrc, 'large.bin'), bigBytes);
    note(`generated ${gen.files} files (${(gen.bytes / MiB).toFixed(0)} MiB) and a ${(bigBytes / MiB).toFixed(0)} MiB file in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    figure('dataset.tree.files', gen.files);
    figure('dataset.tree.MiB', gen.bytes / MiB, 1);
    figure('dataset.large_file.MiB', bigBytes / MiB, 1);

    c = await startWarmCluster(work);
    if (!rsyncSkip) {
      daemon = await startRsyncDaemon(work, { tree: path.join(work, dirs.treeRsync), big: path.join(work, dirs.bigRsync) });
    }

    // --- Full mirror of the tree: Tandem (compression off, as rsync without -z), then rsync -a via the daemon.
    await settleDisk();
    t = Date.now();
    const treeJob = await createJob(c, filesJob('bench-tree', src, path.join(work, dirs.treeTandem), { compression: 'off' }));
    const full = await waitJob(c, 'full mirror', treeJob, mirrored, 3_600_000);
    const fullSec = (full.at - t) / 1000;
    const transferSec = (isoMs(full.job.stats.mirrorCompletedAt) - isoMs(full.job.stats.mirrorStartedAt)) / 1000;
    const bad = await sameTree(src, path.join(work, dirs.treeTandem));
    if (bad) figure('mirror.full.ERROR', `target differs from source: ${bad}`);
    figure('mirror.full.seconds', fullSec);
    figure('mirror.full.MBps', gen.bytes / MB / fullSec, 1);
    figure('mirror.full.agent_seconds', transferSec);
    await deleteJob(c, treeJob);

    let rsyncFull: number | null = null;
    if (daemon) {
      await settleDisk();
      const r = await runRsync(['-a', `${src}/`, daemon.url('tree')]);
      rsyncFull = r.seconds;
      const badR = await sameTree(src, path.join(work, dirs.treeRsync));
      if (badR) figure('rsync.full.ERROR', `target differs from source: ${badR}`);
      figure('rsync.full.seconds', r.seconds);
      figure('rsync.full.MBps', gen.bytes / MB / r.seconds, 1);
      figure('mirror.full.ratio_vs_rsync', ratio(fullSec, r.seconds));
      // Tandem's target fsyncs every file before acknowledging it; rsync does not unless asked. The same copy
      // with --fsync shows how much of the gap durability explains.
      await rmrf(path.join(work, dirs.treeRsync));
      await fs.mkdir(path.join(work, dirs.treeRsync));
      await settleDisk();
      const rf = await runRsync(['-a', '--fsync', `${src}/`, daemon.url('tree')]);
      figure('rsync_fsync.full.seconds', rf.seconds);
      figure('mirror.full.ratio_vs_rsync_fsync', ratio(fullSec, rf.seconds));
    }
    // The floor: the least any copy in Node over TLS does (see floor-copy.ts), for how much of the gap is Tandem's.
    await settleDisk();
    const floor = await floorCopy(src, path.join(work, dirs.treeFloor), work);
    const badF = await sameTree(src, path.join(work, dirs.treeFloor));
    if (badF) figure('floor.full.ERROR', `copy differs from source: ${badF}`);
    figure('floor.full.seconds', floor.seconds);
    figure('mirror.full.ratio_vs_floor', ratio(fullSec, floor.seconds));
    if (rsyncFull !== null) figure('floor.full.ratio_vs_rsync', ratio(floor.seconds, rsyncFull));
    await rmrf(path.join(work, dirs.treeTandem));
    await rmrf(path.join(work, dirs.treeRsync));
    await rmrf(path.join(work, dirs.treeFloor));

    // --- The large single file: first a full copy by each tool.
    await settleDisk();
    t = Date.now();
    const bigJob = await createJob(c, filesJob('bench-large', bigSrc, path.join(work, dirs.bigTandem), { compression: 'off' }));
    const bigFull = await waitJob(c, 'large file mirror', bigJob, mirrored, 3_600_000);
    const bigSec = (bigFull.at - t) / 1000;
    figure('mirror.large_file.seconds', bigSec);
    figure('mirror.large_file.MBps', bigBytes / MB / bigSec, 1);
    let rsyncBig: number | null = null;
    if (daemon) {
      await settleDisk();
      const r = await runRsync(['-a', `${bigSrc}/`, daemon.url('big')]);
      rsyncBig = r.seconds;
      figure('rsync.large_file.seconds', r.seconds);
      figure('rsync.large_file.MBps', bigBytes / MB / r.seconds, 1);
      figure('mirror.large_file.ratio_vs_rsync', ratio(bigSec, r.seconds));
      await rmrf(path.join(work, dirs.bigRsync, 'large.bin'));
      await settleDisk();
      const rf = await runRsync(['-a', '--fsync', `${bigSrc}/`, daemon.url('big')]);
      figure('rsync_fsync.large_file.seconds', rf.seconds);
      figure('mirror.large_file.ratio_vs_rsync_fsync', ratio(bigSec, rf.seconds));
    }
    // The transport floor: the large file's bytes over one TLS connection between two Node processes, nothing read
    // or written; when it is not below rsync's whole copy, no Node agent over TLS can beat rsync on this machine.
    const transport = await floorTransport(bigBytes, work);
    figure('floor.transport.large_file.seconds', transport.seconds);
    figure('mirror.large_file.ratio_vs_transport_floor', ratio(bigSec, transport.seconds));
    if (rsyncBig !== null) figure('floor.transport.ratio_vs_rsync', ratio(transport.seconds, rsyncBig));

    // --- Difference mirror: stop the job, change 1% of the blocks, start (a start after stop remirrors the
    // differences with block checksums); rsync re-syncs the same change with its delta algorithm.
    const stopped = await c.api('POST', `/v1/jobs/${bigJob}/stop`);
    if (stopped.status !== 200) throw new Error(`stop failed: ${JSON.stringify(stopped.body)}`);
    await waitJob(c, 'job stopped', bigJob, (j) => j.state === 'stopped', 60_000);
    await sleep(2000); // the source hears of the stop on its next (woken) poll; a change before that would replicate
    const change = await changeBlocks(path.join(bigSrc, 'large.bin'), 0.01);
    figure('delta.changed_blocks', change.blocks);
    figure('delta.block_size', change.blockSize);
    figure('delta.changed_bytes', change.bytes);
    const srcHash = await sha256File(path.join(bigSrc, 'large.bin'));
    await settleDisk();
    t = Date.now();
    const started = await c.api('POST', `/v1/jobs/${bigJob}/start`);
    if (started.status !== 200) throw new Error(`start failed: ${JSON.stringify(started.body)}`);
    const mirrorId = started.body.mirrorRequest?.id;
    const delta = await waitJob(c, 'difference mirror', bigJob, (j) => mirrored(j) && j.mirrorRequest?.id === mirrorId
      && !!j.stats.mirrorCompletedAt && isoMs(j.stats.mirrorCompletedAt) >= t, 3_600_000);
    const deltaSec = (delta.at - t) / 1000;
    const wire = delta.job.stats.wireCompressedBytes ?? delta.job.stats.bytesSent;
    if ((await sha256File(path.join(work, dirs.bigTandem, 'large.bin'))) !== srcHash) figure('mirror.delta.ERROR', 'target file differs from source after the difference mirror');
    figure('mirror.delta.seconds', deltaSec);
    figure('mirror.delta.agent_seconds', (isoMs(delta.job.stats.mirrorCompletedAt) - isoMs(delta.job.stats.mirrorStartedAt)) / 1000);
    figure('mirror.delta.data_bytes', delta.job.stats.bytesSent);
    figure('mirror.delta.wire_bytes', wire);
    // The target's block hashes travel back in the manifest response (JSON, base64), outside the wire counter.
    figure('mirror.delta.hash_list_bytes_est', Math.ceil(Math.ceil(bigBytes / change.blockSize) * 16 * 4 / 3));
    if (daemon) {
      await settleDisk();
      const r = await runRsync(['-a', '--no-whole-file', `${bigSrc}/`, daemon.url('big')]);
      if ((await sha256File(path.join(work, dirs.bigRsync, 'large.bin'))) !== srcHash) figure('rsync.delta.ERROR', 'target file differs from source after rsync');
      figure('rsync.delta.seconds', r.seconds);
      figure('rsync.delta.wire_bytes_sent', r.bytesSent);
      figure('rsync.delta.wire_bytes_received', r.bytesReceived);
      figure('mirror.delta.ratio_vs_rsync', ratio(deltaSec, r.seconds));
      figure('mirror.delta.wire_ratio_vs_rsync', ratio(wire, r.bytesSent));
    }
    await deleteJob(c, bigJob);

    figure('agent.source.peak_rss_MiB', peakRssMiB(c.source.child.pid), 1);
    figure('agent.target.peak_rss_MiB', peakRssMiB(c.target.child.pid), 1);
  } finally {
    await daemon?.stop();
    if (c) await stopCluster(c);
    await rmrf(work);
  }
}
