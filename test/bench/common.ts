// Shared pieces of the benchmarks: the scale factor, figure output, the machine line, peer-tool installation,
// data generation and small timing helpers. Every figure is printed as one `name value` line.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFill } from 'node:crypto';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const execFileP = promisify(execFile);

/** TANDEM_BENCH_SCALE multiplies every data size and duration (1 = the sizes the issues ask for). */
export const SCALE = (() => {
  const raw = process.env.TANDEM_BENCH_SCALE ?? '1';
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`TANDEM_BENCH_SCALE=${raw} must be a positive number, e.g. 0.05 or 1`);
  return v;
})();

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Prints one comparable figure per line; the collected lines are also kept for a summary. */
export const figures: Array<[string, string]> = [];
export function figure(name: string, value: number | string, digits = 2): void {
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(digits)) : value;
  figures.push([name, text]);
  console.log(`${name} ${text}`);
}

/** Progress notes go to stderr so stdout stays a clean list of figures. */
export function note(msg: string): void {
  process.stderr.write(`# ${msg}\n`);
}

export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : NaN;
}

export function describeMachine(): string {
  const cpuinfo = (() => { try { return readFileSync('/proc/cpuinfo', 'utf8'); } catch { return ''; } })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const memGiB = (os.totalmem() / GiB).toFixed(1);
  return `nproc=${os.availableParallelism()} mem=${memGiB}GiB cpu="${model}" kernel=${os.release()} node=${process.version} scale=${SCALE}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const installAttempts = new Map<string, string | null>();

/**
 * Makes sure a Debian package's command exists: installs it with apt-get when running as root.
 * Returns null when available, else the reason it is not (printed as `<tool>.skipped reason`).
 */
export function ensureTool(cmd: string, pkg = cmd): string | null {
  if (installAttempts.has(cmd)) return installAttempts.get(cmd)!;
  let reason: string | null = null;
  if (!hasCommand(cmd)) {
    if (process.getuid?.() !== 0) {
      reason = `${cmd} is not installed and the bench is not running as root (install it with: apt-get install -y ${pkg})`;
    } else {
      note(`installing ${pkg} with apt-get`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore', env });
      if (r.status !== 0) {
        spawnSync('apt-get', ['update'], { stdio: 'ignore', env });
        r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore', env });
      }
      if (!hasCommand(cmd)) reason = `apt-get install -y ${pkg} failed (exit ${r.status})`;
    }
  }
  installAttempts.set(cmd, reason);
  return reason;
}

/** Fills a file with `size` random bytes, 8 MiB at a time. */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const fh = await fs.open(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(size, 8 * MiB) || 1);
    for (let done = 0; done < size;) {
      const n = Math.min(chunk.length, size - done);
      await randomFillP(chunk.subarray(0, n));
      await fh.write(chunk, 0, n, done);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

export function randomFillP(buf: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => randomFill(buf, (err, b) => (err ? reject(err) : resolve(b))));
}

/** A seeded PRNG (mulberry32) so the file-size mix is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The mixed-size tree of the mirror benchmark: `count` files of random content whose sizes follow a
 * log-uniform mix (tens of bytes to a few MiB, most of them small), normalised to `totalBytes`, 100 per
 * directory in a two-level layout. Returns the bytes actually written.
 */
export async function generateTree(root: string, count: number, totalBytes: number): Promise<{ files: number; bytes: number }> {
  const rnd = seededRandom(20_000);
  const weights = Array.from({ length: count }, () => Math.exp(Math.log(64) + rnd() * (Math.log(8 * MiB) - Math.log(64))));
  // Log-uniform from 64 B to 8 MiB has a heavy tail; normalise so the total is what was asked for.
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(0, Math.round((w / sum) * totalBytes)));
  let bytes = 0;
  const pool = Buffer.allocUnsafe(Math.min(64 * MiB, Math.max(...sizes, 1)));
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `d${Math.floor(i / 1000)}`, `s${Math.floor((i % 1000) / 100)}`);
    if (i % 100 === 0) await fs.mkdir(dir, { recursive: true });
    const size = sizes[i]!;
    if (size > pool.length) {
      await writeRandomFile(path.join(dir, `f${i}.bin`), size);
    } else {
      // Fresh random bytes for each file: no two files share content (no tool can profit from duplication).
      await randomFillP(pool.subarray(0, size));
      await fs.writeFile(path.join(dir, `f${i}.bin`), pool.subarray(0, size));
    }
    bytes += size;
  }
  return { files: count, bytes };
}

/** A memory figure (in kB) from /proc/<pid>/status, in MiB, or NaN when the process is gone. */
function statusMiB(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number {
  if (!pid) return NaN;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Peak resident set size (VmHWM) of a process, in MiB. */
export const peakRssMiB = (pid: number | undefined): number => statusMiB(pid, 'VmHWM');

/** Current resident set size (VmRSS) of a process, in MiB. */
export const rssMiB = (pid: number | undefined): number => statusMiB(pid, 'VmRSS');

/** Flushes dirty pages so one tool's writeback does not slow the next tool's run. */
export async function syncDisks(): Promise<void> {
  await execFileP('sync');
}

/** Sectors written on the machine's whole disks (not partitions, loop or ram devices). */
function diskActivity(): { written: number } {
  let written = 0;
  for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14 || !/^(vd[a-z]+|sd[a-z]+|xvd[a-z]+|nvme\d+n\d+)$/.test(f[2]!)) continue;
    written += Number(f[9]);
  }
  return { written };
}

/**
 * Flushes dirty pages and waits until the disk has been nearly idle (under 1 MiB written) for a second, at most
 * 60 s, so the clean-up of one measurement (deleting gigabytes: discards, journal) does not land in the next
 * one's figures. A running hub and agents write a little all the time, hence "nearly". Returns the seconds waited.
 */
export async function settleDisk(): Promise<number> {
  const t0 = Date.now();
  await syncDisks();
  const window: number[] = [diskActivity().written];
  while (Date.now() - t0 < 60_000) {
    await sleep(250);
    window.push(diskActivity().written);
    if (window.length > 5) window.shift();
    if (window.length === 5 && window[4]! - window[0]! < 2048) break; // sectors of 512 bytes: < 1 MiB in 1 s
  }
  return (Date.now() - t0) / 1000;
}

export async function rmrf(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

/** Spawns a long-running helper (rsync daemon, lsyncd) and returns it with a stop function. */
export function spawnDaemon(cmd: string, args: string[], opts: { cwd?: string } = {}): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  return {
    child,
    output: () => out,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }),
  };
}
