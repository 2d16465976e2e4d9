import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeExit, runProcess, shellStatus } from './process';

let dir: string;
async function script(name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** Alive and not a zombie (an orphan's zombie lingers until init reaps it). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'tandem-proc-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('runProcess', () => {
  it('returns the exit code and both streams, interleaved in the combined output', async () => {
    const file = await script('codes.sh', 'echo out1; echo err1 >&2; echo out2; exit 4');
    const r = await runProcess(file, []);
    expect(r).toMatchObject({ code: 4, signal: null, timedOut: false, aborted: false });
    expect(r.stdout).toBe('out1\nout2\n');
    expect(r.stderr).toBe('err1\n');
    expect(r.output).toContain('err1');
    expect(shellStatus(r)).toBe(4);
    expect(describeExit(r)).toBe('exited with code 4');
  });

  it('stops the whole process group at the timeout, including children the script started', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const file = await script('hang.sh', `sleep 30 & echo $! > '${pidFile}'; sleep 30`);
    const started = Date.now();
    const r = await runProcess(file, [], { timeoutMs: 300, killGraceMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(Date.now() - started).toBeLessThan(3000);
    const childPid = Number((await readFile(pidFile, 'utf8')).trim());
    await new Promise((res) => setTimeout(res, 100));
    expect(await isRunning(childPid)).toBe(false); // the background sleep is gone too
  });

  it('follows SIGTERM with SIGKILL after the grace period when the process ignores it', async () => {
    const file = await script('stubborn.sh', "trap '' TERM; while true; do sleep 0.05; done");
    const started = Date.now();
    const r = await runProcess(file, [], { timeoutMs: 200, killGraceMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(shellStatus(r)).toBe(137);
  });

  it('finishes when the script exits even if a background child keeps the output pipe open', async () => {
    const file = await script('daemonish.sh', 'sleep 5 & echo started');
    const started = Date.now();
    const r = await runProcess(file, []);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('started\n');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a program that cannot be started instead of throwing', async () => {
    const r = await runProcess(path.join(dir, 'nope'), []);
    expect(r.spawnError?.code).toBe('ENOENT');
    expect(shellStatus(r)).toBe(127);
  });

  it('stops the process when the abort signal fires', async () => {
    const file = await script('long.sh', 'sleep 30');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const r = await runProcess(file, [], { signal: controller.signal, killGraceMs: 200 });
    expect(r.aborted).toBe(true);
    expect(r.timedOut).toBe(false);
  });
});
