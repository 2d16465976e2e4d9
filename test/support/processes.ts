// Starts real hub and agent processes (the `tandem` binary) on 127.0.0.1 with temp data dirs, and waits on conditions.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TANDEM_BIN = fileURLToPath(new URL('../../agent/bin/tandem.mjs', import.meta.url));

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `tandem-${prefix}-`));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `launcher`: a command that runs the node command line it is given (e.g. in its own mount namespace); it must exec it. */
function startProcess(args: string[], readyPattern: RegExp, env: NodeJS.ProcessEnv = {}, launcher: string[] = []): Promise<Proc & { match: RegExpMatchArray }> {
  // TANDEM_TEST_NODE_ARGS passes node flags to hub and agent processes (e.g. --cpu-prof for profiling a benchmark).
  const nodeArgs = (process.env.TANDEM_TEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const command = [...launcher, process.execPath, ...nodeArgs, TANDEM_BIN, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const proc: Proc = {
    child,
    output: () => out,
    stop: (signal = 'SIGTERM') => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    }),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void proc.stop('SIGKILL'); reject(new Error(`process ${args[0]} not ready in 30 s:\n${out}`)); }, 30_000);
    const onData = () => {
      const m = out.match(readyPattern);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve({ ...proc, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`process ${args[0]} exited with ${code}:\n${out}`)); });
  });
}

export interface HubProc extends Proc {
  url: string;
  port: number;
  dataDir: string;
  adminToken: string;
}

/** `env`: extra environment, e.g. TANDEM_TRIAL_DAYS=0 for a hub that gives no evaluation licence. */
export async function startHubProcess(opts: { dataDir?: string; port?: number; env?: NodeJS.ProcessEnv } = {}): Promise<HubProc> {
  const dataDir = opts.dataDir ?? (await tempDir('hub'));
  const port = opts.port ?? (await freePort());
  const p = await startProcess(['hub', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], /listening on (http:\/\/\S+)/, opts.env);
  const adminToken = (await readFile(path.join(dataDir, 'admin.token'), 'utf8')).trim();
  return { ...p, url: p.match[1]!, port, dataDir, adminToken };
}

export interface AgentProc extends Proc {
  serverId: string;
  dataPort: number;
  dataDir: string;
}

export async function startAgentProcess(opts: { name: string; token?: string; dataDir?: string; port?: number; pollWait?: number; extraArgs?: string[]; launcher?: string[] }): Promise<AgentProc> {
  const dataDir = opts.dataDir ?? (await tempDir(`agent-${opts.name}`));
  const port = opts.port ?? (await freePort());
  const args = ['agent', '--name', opts.name, '--data-dir', dataDir, '--port', String(port), '--listen', '127.0.0.1',
    '--advertise', '127.0.0.1', '--poll-wait', String(opts.pollWait ?? 5), '--log-level', process.env.TANDEM_TEST_LOG ?? 'warn', ...(opts.extraArgs ?? [])];
  if (opts.token) args.push('--token', opts.token);
  const p = await startProcess(args, /running as (\S+); data port (\d+)/, {}, opts.launcher);
  return { ...p, serverId: p.match[1]!, dataPort: Number(p.match[2]), dataDir };
}

/** JSON HTTP call against a hub (or any JSON endpoint). */
export async function http(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
}
