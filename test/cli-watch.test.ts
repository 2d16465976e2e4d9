// `tandem job show ID --watch`, the real CLI against a real hub and agents on 127.0.0.1: it redraws every second with
// the mirror's progress bar while a mirror runs, keeps going after it, and Ctrl-C (SIGINT) ends it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { TANDEM_BIN, tempDir, waitFor } from './support/processes';
import { randomData } from './support/trees';

let c: Cluster;
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => {
  if (c && c.target.child.exitCode === null) c.target.child.kill('SIGCONT');
  await c?.stop();
});

const FILES = 40;
const CLEAR = '\x1b[2J\x1b[H';
const BAR = /\[#*-*\] \d{1,3}\.\d%/;

/** Runs `tandem job show ID --watch` and collects its output; `frames()` splits it at each redraw. */
function watch(jobId: string, extra: string[] = []) {
  const child = spawn(process.execPath, [TANDEM_BIN, '--hub', c.hub.url, '--api-token', c.hub.adminToken, ...extra, 'job', 'show', jobId, '--watch'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => err, stdout: () => out, frames: () => out.split(CLEAR).slice(1) };
}

describe('tandem job show --watch', () => {
  it('redraws with a progress bar while a mirror runs, follows it to protecting, and ends on Ctrl-C', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    for (let i = 0; i < FILES; i++) await fs.writeFile(path.join(src, `f${String(i).padStart(2, '0')}.bin`), randomData(1024 * 1024));
    const job = await c.api('POST', '/v1/jobs', filesJob('watched', src, dst, { mirror: { mode: 'all' } }));
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    // Hold the mirror part way: a stopped target leaves the source's stream waiting, so the job stays "Mirroring"
    // at the same percentage for as long as the test needs, whatever this machine's speed.
    await waitFor('some files on the target', async () => (await fs.readdir(dst)).filter((n) => n.endsWith('.bin')).length >= 3, 30_000, 5);
    c.target.child.kill('SIGSTOP');
    let w: ReturnType<typeof watch> | undefined;
    try {
      const held = await c.waitJob('mirroring, part done', job.body.id, (j) => j.mirrorStatus === 'in_progress' && j.stats.percentComplete > 0 && j.stats.percentComplete < 100, 20_000);
      w = watch(job.body.id);
      const mirroring = await waitFor('two frames of the mirror', () => w!.frames().filter((f) => BAR.test(f)).length >= 2 && w!.frames(), 15_000, 50);
      const frame = mirroring.find((f) => BAR.test(f))!;
      expect(frame).toContain(`watched (${job.body.id})  alpha → beta`);
      expect(frame).toMatch(/activity Mirroring \d+%/);
      expect(frame).toContain('mirror in_progress');
      // The hub's percentage, part way (a later report may have moved it on since `held`).
      const percent = Number(frame.match(BAR)![0].match(/([\d.]+)%$/)![1]);
      expect(percent).toBeGreaterThanOrEqual(held.stats.percentComplete);
      expect(percent).toBeGreaterThan(0);
      expect(percent).toBeLessThan(100);
      expect(frame).toContain('Ctrl-C to stop');
    } finally {
      c.target.child.kill('SIGCONT');
    }
    // Let go, the mirror ends and the same watch shows the job protecting, without a bar.
    const count = w.frames().length;
    const protecting = await waitFor('a frame of the job protecting', () => w!.frames().slice(count).find((f) => /activity Protecting/.test(f)), 30_000, 50);
    expect(protecting).toContain('mirror idle');
    expect(protecting).toContain('target data ok');
    expect(protecting).not.toMatch(BAR);
    expect(w.child.exitCode).toBeNull(); // a finished mirror does not end the watch
    w.child.kill('SIGINT');
    const ended = await Promise.race([w.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(ended, 'the watch ends within 5 s of Ctrl-C').not.toBeNull();
    expect(ended!.signal === 'SIGINT' || ended!.code === 0 || ended!.code === 130, JSON.stringify(ended)).toBe(true);
    expect(w.stderr()).toBe('');
  });

  it('with --json it writes one JSON document per line and refresh, without screen codes', async () => {
    const job = await c.api('POST', '/v1/jobs', filesJob('watched-json', await tempDir('src'), await tempDir('dst'), { start: false }));
    const w = watch(job.body.id, ['--json']);
    const lines = await waitFor('two JSON lines', () => { const l = w.stdout().split('\n').filter(Boolean); return l.length >= 2 && l; }, 15_000, 50);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ id: job.body.id, name: 'watched-json', state: 'stopped' });
    expect(w.stdout()).not.toContain(CLEAR);
    w.child.kill('SIGINT');
    await w.exited;
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  });

  it('a watched job that is deleted ends the watch with the hub\'s error and a non-zero exit', async () => {
    const job = await c.api('POST', '/v1/jobs', filesJob('watched-deleted', await tempDir('src'), await tempDir('dst'), { start: false }));
    const w = watch(job.body.id);
    await waitFor('a first frame', () => w.frames().length >= 1, 15_000, 50);
    expect(w.frames()[0]).toContain('activity Stopped');
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
    const ended = await Promise.race([w.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(ended, 'the watch ends within 5 s').not.toBeNull();
    expect(ended!.code).toBe(1);
    expect(w.stderr()).toMatch(/^tandem: .*not_found/);
  });
});
