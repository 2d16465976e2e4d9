import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailoverScript } from '../../shared/jobs/failover-settings';
import { runPhaseScript, runScript, scriptEnvironment, type ScriptContext } from './scripts';
import type { StepResult } from './step-result';

let dir: string;
const ctx = (over: Partial<ScriptContext> = {}): ScriptContext => ({
  jobId: 'job-1', jobName: 'Payroll files', role: 'target', phase: 'preFailover', killGraceMs: 200, logDir: dir, ...over,
});
const script = (p: string, over: Partial<FailoverScript> = {}): FailoverScript => ({
  path: p, args: [], wait: true, timeoutSec: 10, runOn: 'target', ...over,
});

async function writeScript(name: string, body: string, mode = 0o755): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, mode);
  return file;
}

beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'tandem-scripts-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('runScript', () => {
  it('runs the script with its arguments (no shell) and the job variables, and reports success', async () => {
    const marker = path.join(dir, 'marker-args');
    const file = await writeScript('args.sh', [
      `for a in "$@"; do printf 'arg=%s\\n' "$a" >> '${marker}'; done`,
      `printf 'id=%s name=%s phase=%s role=%s extra=%s token=%s\\n' "$TANDEM_JOB_ID" "$TANDEM_JOB_NAME" "$TANDEM_PHASE" "$TANDEM_ROLE" "$TANDEM_EPOCH" "\${TANDEM_TOKEN:-unset}" >> '${marker}'`,
      'echo done',
    ].join('\n'));
    process.env.TANDEM_TOKEN = 'secret-agent-token';
    try {
      const r = await runScript(script(file, { args: ['one two', '$HOME', '; rm -rf /'] }), ctx({ env: { TANDEM_EPOCH: '7' } }));
      expect(r).toMatchObject({ step: 'script.preFailover', ok: true, output: 'done\n' });
      expect(r.detail).toContain('completed successfully');
    } finally {
      delete process.env.TANDEM_TOKEN;
    }
    expect(await readFile(marker, 'utf8')).toBe(
      'arg=one two\narg=$HOME\narg=; rm -rf /\n' +
        'id=job-1 name=Payroll files phase=preFailover role=target extra=7 token=unset\n',
    );
  });

  it('reports a non-zero exit as a failure with the exit code and the end of the output', async () => {
    const file = await writeScript('fails.sh', 'echo "cannot mount share" >&2; exit 7');
    const r = await runScript(script(file), ctx({ phase: 'postFailover' }));
    expect(r.ok).toBe(false);
    expect(r.step).toBe('script.postFailover');
    expect(r.detail).toContain('post-failover script');
    expect(r.detail).toContain('exited with code 7');
    expect(r.output).toBe('cannot mount share\n');
  });

  it('keeps only the last 4 KB of a long output', async () => {
    const file = await writeScript('chatty.sh', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo THE-END');
    const r = await runScript(script(file), ctx());
    expect(r.ok).toBe(true);
    expect(Buffer.byteLength(r.output!)).toBeLessThanOrEqual(4096);
    expect(r.output!.endsWith('line 1999\nTHE-END\n')).toBe(true);
    expect(r.output).not.toContain('line 1\n');
  });

  it('stops a script that runs past its timeout and says so', async () => {
    const file = await writeScript('hangs.sh', 'echo working; sleep 30');
    const started = Date.now();
    const r = await runScript(script(file, { timeoutSec: 1 }), ctx());
    expect(Date.now() - started).toBeLessThan(4000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/did not finish within 1 s and was stopped \(SIGTERM, then SIGKILL after 0.2 s\)/);
    expect(r.detail).toContain('failover.scripts.preFailover.timeoutSec');
    expect(r.output).toBe('working\n');
  });

  it('kills a script that ignores SIGTERM after the grace period', async () => {
    const file = await writeScript('stubborn.sh', "trap '' TERM; while true; do sleep 0.05; done");
    const r = await runScript(script(file, { timeoutSec: 1 }), ctx());
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('did not finish within 1 s');
  });

  it('explains a missing, non-executable or non-file script without running anything', async () => {
    const missing = await runScript(script(path.join(dir, 'absent.sh')), ctx());
    expect(missing).toMatchObject({ ok: false });
    expect(missing.detail).toMatch(/does not exist on this host; install it there or fix failover\.scripts\.preFailover\.path/);

    const plain = await writeScript('plain.sh', 'exit 0', 0o644);
    const notExec = await runScript(script(plain), ctx());
    expect(notExec.ok).toBe(false);
    expect(notExec.detail).toContain(`chmod +x ${plain}`);

    const aDir = path.join(dir, 'a-directory');
    await mkdir(aDir, { recursive: true });
    const isDir = await runScript(script(aDir), ctx());
    expect(isDir.ok).toBe(false);
    expect(isDir.detail).toContain('not a regular file');
  });

  it('reports a script whose interpreter is missing as not startable', async () => {
    const file = path.join(dir, 'bad-interp.sh');
    await writeFile(file, '#!/nonexistent/interpreter\nexit 0\n');
    await chmod(file, 0o755);
    const r = await runScript(script(file), ctx());
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('could not be started');
    expect(r.detail).toContain('#! interpreter');
  });

  it('without wait, reports the script started at once and its result later', async () => {
    const marker = path.join(dir, 'marker-background');
    const file = await writeScript('background.sh', `sleep 0.5; echo "bg $1" > '${marker}'; echo finished`);
    let later: StepResult | undefined;
    const finished = new Promise<void>((resolve) => {
      void runScript(script(file, { wait: false, args: ['x'] }), ctx({ phase: 'postFailback', onBackgroundExit: (r) => { later = r; resolve(); } }))
        .then((r) => {
          expect(r.ok).toBe(true);
          expect(r.detail).toMatch(/Started the post-failback script .* \(pid \d+\) without waiting/);
          expect(r.durationMs).toBeLessThan(400);
        });
    });
    await expect(readFile(marker, 'utf8')).rejects.toThrow();
    await finished;
    expect(await readFile(marker, 'utf8')).toBe('bg x\n');
    expect(later).toMatchObject({ ok: true, output: 'finished\n' });
  });

  it('stops a script that was not waited for at its timeout', async () => {
    const file = await writeScript('background-hang.sh', 'sleep 30');
    const later = await new Promise<StepResult>((resolve) => {
      void runScript(script(file, { wait: false, timeoutSec: 1 }), ctx({ onBackgroundExit: resolve }));
    });
    expect(later.ok).toBe(false);
    expect(later.detail).toContain('timeout');
  });

  it('skips a script configured for the other host, and a phase without a script', async () => {
    const file = await writeScript('source-only.sh', 'exit 1');
    const other = await runScript(script(file, { runOn: 'source' }), ctx({ phase: 'postFailback' }));
    expect(other).toMatchObject({ ok: true, skipped: true });
    expect(other.detail).toContain('runs on the source');
    const none = await runPhaseScript({}, ctx({ phase: 'preFailback' }));
    expect(none).toMatchObject({ step: 'script.preFailback', ok: true, skipped: true, detail: 'No pre-failback script is configured.' });
  });

  it('runs the configured script for the phase', async () => {
    const file = await writeScript('phase.sh', 'echo "$TANDEM_PHASE"');
    const r = await runPhaseScript({ postFailover: script(file) }, ctx({ phase: 'postFailover' }));
    expect(r).toMatchObject({ ok: true, output: 'postFailover\n' });
  });
});

describe('scriptEnvironment', () => {
  it('drops the agent TANDEM_* settings and lets no extra override the job variables', () => {
    const env = scriptEnvironment(
      { PATH: '/bin', TANDEM_TOKEN: 't', TANDEM_AGENT_DATA_DIR: '/x', HOME: '/root' },
      { jobId: 'j', jobName: 'n', phase: 'preFailback', role: 'target', env: { TANDEM_JOB_ID: 'spoof', APP: '1' } },
    );
    expect(env).toEqual({
      PATH: '/bin', HOME: '/root', APP: '1',
      TANDEM_JOB_ID: 'j', TANDEM_JOB_NAME: 'n', TANDEM_PHASE: 'preFailback', TANDEM_ROLE: 'target',
    });
  });
});
