// Replication lag benchmark (issue 4): 1,000 small writes/s across 100 files for 30 s (× scale, at least 5 s)
// on a job in steady state; p50/p99/max from write completion on the source to the record being readable on
// the target; then the same writer against lsyncd (its smallest delay, local target) in the same run.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SCALE, figure, note, ratio, ensureTool, rmrf, sleep, spawnDaemon, settleDisk } from './common';
import { measureLag, seedFiles, fileName, type LagResult } from './lag-probe';
import { startWarmCluster, stopCluster, createJob, waitJob, caughtUp, filesJob, type Cluster } from './tandem';
import { waitFor } from '../support/processes';

const FILES = 100;
const RATE = 1000;

function report(prefix: string, r: LagResult): void {
  figure(`${prefix}.writes`, r.writes);
  figure(`${prefix}.writes_per_sec`, r.writesPerSec, 0);
  figure(`${prefix}.p50_ms`, r.p50, 1);
  figure(`${prefix}.p99_ms`, r.p99, 1);
  figure(`${prefix}.max_ms`, r.max, 1);
  if (r.unseen) figure(`${prefix}.unseen_writes`, r.unseen);
}

export async function benchLag(): Promise<void> {
  const seconds = Math.max(5, 30 * SCALE);
  const opts = { files: FILES, rate: RATE, seconds, settleMs: 60_000 };
  figure('lag.duration_seconds', seconds, 1);
  const work = await fs.mkdtemp('/tmp/tandem-bench-lag-');
  try {
    const tandem = await runTandem(work, opts);
    await runLsyncd(work, opts, tandem);
  } finally {
    await rmrf(work);
  }
}

async function runTandem(work: string, opts: Parameters<typeof measureLag>[2]): Promise<LagResult> {
  let c: Cluster | undefined;
  try {
    // --- Tandem: a files job with default replication settings, mirrored and caught up before the writer starts.
    const src = path.join(work, 'tandem-src');
    const dst = path.join(work, 'tandem-dst');
    await fs.mkdir(src);
    await fs.mkdir(dst);
    seedFiles(src, FILES);
    c = await startWarmCluster(work);
    const id = await createJob(c, filesJob('bench-lag', src, dst));
    const ready = await waitJob(c, 'lag job caught up', id, (j) => caughtUp(j) && j.replicationStatus === 'ready', 120_000);
    figure('lag.tandem.batch_ms', ready.job.spec.replication?.batchMs ?? NaN);
    await sleep(1000);
    note(`disk settled in ${(await settleDisk()).toFixed(1)} s`);
    const tandem = await measureLag(src, dst, opts);
    report('lag.tandem', tandem);
    const after = await waitJob(c, 'replication caught up after the writer', id, caughtUp, 120_000);
    figure('lag.tandem.reported_lag_ms_after', after.job.stats.replication.lagMs);
    await identicalFiles(src, dst, 'lag.tandem');
    return tandem;
  } finally {
    if (c) await stopCluster(c);
  }
}

async function runLsyncd(work: string, opts: Parameters<typeof measureLag>[2], tandem: LagResult): Promise<void> {
  {
    const skip = ensureTool('lsyncd');
    if (skip) {
      figure('lsyncd.skipped', skip);
      return;
    }
    const rsyncSkip = ensureTool('rsync');
    if (rsyncSkip) {
      figure('lsyncd.skipped', `lsyncd needs rsync: ${rsyncSkip}`);
      return;
    }
    const src = path.join(work, 'lsyncd-src');
    const dst = path.join(work, 'lsyncd-dst');
    await fs.mkdir(src);
    await fs.mkdir(dst);
    seedFiles(src, FILES);
    const lsyncd = await startLsyncd(work, src, dst);
    try {
      await sleep(1000);
      note(`disk settled in ${(await settleDisk()).toFixed(1)} s`);
      const r = await measureLag(src, dst, opts);
      report('lag.lsyncd', r);
      await identicalFiles(src, dst, 'lag.lsyncd');
      figure('lag.p50_ratio_vs_lsyncd', ratio(tandem.p50, r.p50));
      figure('lag.p99_ratio_vs_lsyncd', ratio(tandem.p99, r.p99));
      figure('lag.max_ratio_vs_lsyncd', ratio(tandem.max, r.max));
    } finally {
      await lsyncd.stop();
    }
  }
}

/**
 * lsyncd with the smallest delay it accepts (0: every event batch starts an rsync at once), copying to a
 * local directory. Its default watch fires on close-write, which the writer's open/append/close produces.
 */
async function startLsyncd(work: string, src: string, dst: string) {
  const conf = path.join(work, 'lsyncd.conf.lua');
  await fs.writeFile(conf, [
    'settings {',
    '  nodaemon = true,',
    `  logfile = "${path.join(work, 'lsyncd.log')}",`,
    '  insist = true,',
    '}',
    'sync {',
    '  default.rsync,',
    `  source = "${src}/",`,
    `  target = "${dst}/",`,
    '  delay = 0,',
    '}',
    '',
  ].join('\n'));
  const d = spawnDaemon('lsyncd', [conf]);
  // Its start-up full sync copies the seeded files; wait for it to finish before the writer starts.
  await waitFor('lsyncd start-up sync', async () => {
    if (d.child.exitCode !== null) throw new Error(`lsyncd exited with ${d.child.exitCode}: ${d.output()}`);
    const log = await fs.readFile(path.join(work, 'lsyncd.log'), 'utf8').catch(() => '');
    const names = await fs.readdir(dst);
    return /Startup of .* finished/.test(log) && names.filter((n) => /^f\d{3}\.log$/.test(n)).length === FILES;
  }, 60_000, 100).catch((err) => { void d.stop(); throw new Error(`${(err as Error).message}\n${d.output()}`); });
  note('lsyncd running');
  return d;
}

async function identicalFiles(src: string, dst: string, prefix: string): Promise<void> {
  for (let i = 0; i < FILES; i++) {
    const a = await fs.readFile(path.join(src, fileName(i)));
    const b = await fs.readFile(path.join(dst, fileName(i))).catch(() => Buffer.alloc(0));
    if (!a.equals(b)) {
      figure(`${prefix}.ERROR`, `${fileName(i)} differs on the target (${b.length} of ${a.length} bytes)`);
      return;
    }
  }
}
