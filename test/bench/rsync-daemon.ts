// An rsync daemon on 127.0.0.1 with one writable module per destination directory, and the client copy
// through it (the peer of the mirror benchmark: rsync over a socket, like Tandem's agent-to-agent stream).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitFor } from '../support/processes';
import net from 'node:net';
import { spawnDaemon } from './common';

export interface RsyncDaemon {
  /** rsync://127.0.0.1:port/<module>/ */
  url(module: string): string;
  stop(): Promise<void>;
}

/** Starts `rsync --daemon --no-detach` serving `modules` (name → directory) from a config in `workDir`. */
export async function startRsyncDaemon(workDir: string, modules: Record<string, string>): Promise<RsyncDaemon> {
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const conf = [
    `pid file = ${path.join(workDir, 'rsyncd.pid')}`,
    `log file = ${path.join(workDir, 'rsyncd.log')}`,
    'use chroot = no',
    // As root, write as root (so -a keeps owners, as Tandem does); otherwise as the invoking user.
    ...(root ? ['uid = 0', 'gid = 0'] : []),
    ...Object.entries(modules).flatMap(([name, dir]) => [`[${name}]`, `  path = ${dir}`, '  read only = no', '  munge symlinks = no']),
    '',
  ].join('\n');
  const confFile = path.join(workDir, 'rsyncd.conf');
  await fs.writeFile(confFile, conf);
  const d = spawnDaemon('rsync', ['--daemon', '--no-detach', `--config=${confFile}`, `--port=${port}`, '--address=127.0.0.1']);
  await waitFor('rsync daemon listening', () => new Promise<boolean>((resolve) => {
    if (d.child.exitCode !== null) throw new Error(`rsync daemon exited: ${d.output()}`);
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  }), 10_000, 50);
  return { url: (m) => `rsync://127.0.0.1:${port}/${m}/`, stop: d.stop };
}

export interface RsyncResult {
  seconds: number;
  bytesSent: number;
  bytesReceived: number;
  output: string;
}

/** Runs the rsync client with `--stats` and parses its wire byte counts. */
export async function runRsync(args: string[]): Promise<RsyncResult> {
  const t0 = process.hrtime.bigint();
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('rsync', ['--stats', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    child.on('close', (c) => resolve({ code: c, out: text }));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`rsync ${args.join(' ')} exited with ${code}:\n${out.slice(-2000)}`);
  const num = (label: string) => Number((new RegExp(`${label}:\\s*([\\d,.]+)`).exec(out)?.[1] ?? 'NaN').replace(/[,.]/g, ''));
  return { seconds, bytesSent: num('Total bytes sent'), bytesReceived: num('Total bytes received'), output: out };
}
