// The replication-lag probe shared by the Tandem and lsyncd runs: a paced writer appending numbered records to
// 100 files on the source, and an observer (its own thread, event-driven) noting when each record is readable on
// the target. Lag of a write = first time the observer read that record on the target − the write's completion.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { percentile, seededRandom, sleep } from './common';

/** Bytes per record: `<file>:<index>` padded with spaces and a newline, so a record's place in a file is index × RECORD. */
export const RECORD = 32;

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export function fileName(i: number): string {
  return `f${String(i).padStart(3, '0')}.log`;
}

export function record(file: number, index: number): Buffer {
  return Buffer.from(`${file}:${index}`.padEnd(RECORD - 1, ' ') + '\n', 'latin1');
}

/**
 * The observer runs in a worker thread so the writer's pacing never delays a reading, and it uses inotify
 * (fs.watch on the target dir) rather than a busy poll so it does not steal CPU from the tools being measured;
 * a sweep every 20 ms catches anything an event did not announce. On each look it reads only the last complete
 * record of the file and accepts it only if its text is right (a grown but unwritten tail does not count).
 * Plain JavaScript evaluated in the worker (no TypeScript loader needed there).
 */
const OBSERVER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { dir, files, record, base } = workerData;
const seen = base.map((n) => n - 1);
const samples = [];
const buf = Buffer.alloc(record);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const name = (i) => 'f' + String(i).padStart(3, '0') + '.log';
function look(i) {
  let fd;
  try { fd = fs.openSync(path.join(dir, name(i)), 'r'); } catch { return; }
  try {
    const n = Math.floor(fs.fstatSync(fd).size / record);
    if (n - 1 <= seen[i]) return;
    const got = fs.readSync(fd, buf, 0, record, (n - 1) * record);
    if (got !== record) return;
    const m = /^(\\d+):(\\d+) /.exec(buf.toString('latin1'));
    if (!m || Number(m[1]) !== i || Number(m[2]) !== n - 1) return;
    seen[i] = n - 1;
    samples.push(i, n - 1, nowUs());
  } catch {} finally { fs.closeSync(fd); }
}
const watcher = fs.watch(dir, { persistent: true }, (_ev, f) => {
  const m = f && /^f(\\d{3})\\.log$/.exec(f);
  if (m) look(Number(m[1]));
});
const sweep = setInterval(() => { for (let i = 0; i < files; i++) look(i); }, 20);
parentPort.on('message', (msg) => {
  if (msg === 'stop') {
    watcher.close();
    clearInterval(sweep);
    parentPort.postMessage({ samples, seen });
    parentPort.close();
  }
});
parentPort.postMessage('ready');
`;

export interface LagResult {
  writes: number;
  unseen: number;
  p50: number;
  p99: number;
  max: number;
  writesPerSec: number;
}

/** Creates the 100 empty files the writer appends to (before the tool starts protecting them). */
export function seedFiles(dir: string, files: number): void {
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(dir, fileName(i)), '');
}

/**
 * Writes `rate` records/s to random files of `srcDir` for `seconds` (open, append one record, close: the
 * pattern of a logging application, and what lsyncd's close-write watch needs), then waits up to
 * `settleMs` for everything to be readable in `dstDir`, and returns lag percentiles in milliseconds.
 */
export async function measureLag(srcDir: string, dstDir: string, opts: { files: number; rate: number; seconds: number; settleMs: number }): Promise<LagResult> {
  const { files, rate, seconds } = opts;
  // Records already in the files (an earlier run on the same files) are not part of this measurement.
  const base = Array.from({ length: files }, (_, i) => Math.floor((fs.statSync(path.join(srcDir, fileName(i)), { throwIfNoEntry: false })?.size ?? 0) / RECORD));
  const observer = new Worker(OBSERVER_SOURCE, { eval: true, workerData: { dir: dstDir, files, record: RECORD, base } });
  await new Promise<void>((resolve, reject) => {
    observer.once('message', () => resolve());
    observer.once('error', reject);
  });
  const counts = [...base];
  const writtenAt: number[][] = Array.from({ length: files }, () => []);
  const rnd = seededRandom(1000);
  const total = Math.round(rate * seconds);
  const start = nowUs();
  let done = 0;
  while (done < total) {
    const due = Math.min(total, Math.floor(((nowUs() - start) / 1e6) * rate));
    while (done < due) {
      const i = Math.floor(rnd() * files);
      const fd = fs.openSync(path.join(srcDir, fileName(i)), 'a');
      fs.writeSync(fd, record(i, counts[i]!));
      fs.closeSync(fd);
      writtenAt[i]!.push(nowUs());
      counts[i]!++;
      done++;
    }
    await sleep(1);
  }
  const writerSec = (nowUs() - start) / 1e6;
  // Wait until the target has every record (or give up after settleMs: what never arrived is reported).
  const deadline = Date.now() + opts.settleMs;
  const complete = () => counts.every((n, i) => {
    try { return fs.statSync(path.join(dstDir, fileName(i))).size >= n * RECORD; } catch { return n === 0; }
  });
  while (!complete() && Date.now() < deadline) await sleep(100);
  await sleep(100); // let the observer take its last look
  observer.postMessage('stop');
  const { samples } = await new Promise<{ samples: number[]; seen: number[] }>((resolve) => observer.once('message', resolve));
  await observer.terminate();

  // For each file, the observations (index readable, time) in time order; a write's lag is the first
  // observation that covers its index.
  const byFile: Array<Array<[number, number]>> = Array.from({ length: files }, () => []);
  for (let s = 0; s < samples.length; s += 3) byFile[samples[s]!]!.push([samples[s + 1]!, samples[s + 2]!]);
  const lags: number[] = [];
  let unseen = 0;
  for (let i = 0; i < files; i++) {
    const obs = byFile[i]!;
    let o = 0;
    for (let k = base[i]!; k < counts[i]!; k++) {
      while (o < obs.length && obs[o]![0] < k) o++;
      if (o >= obs.length) { unseen++; continue; }
      lags.push(Math.max(0, (obs[o]![1] - writtenAt[i]![k - base[i]!]!) / 1000));
    }
  }
  lags.sort((a, b) => a - b);
  return { writes: total, unseen, p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? NaN, writesPerSec: total / writerSec };
}
