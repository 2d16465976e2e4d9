// Real processes on 127.0.0.1: a hub and two agents enrol, stay online, run a command, and survive a hub restart.
import { describe, it, expect, afterAll } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { startHubProcess, startAgentProcess, http, waitFor, type HubProc, type AgentProc } from './support/processes';

const procs: Array<{ stop(s?: NodeJS.Signals): Promise<void> }> = [];
afterAll(async () => { await Promise.all(procs.map((p) => p.stop('SIGKILL'))); });

describe('hub and agents as real processes', () => {
  let hub: HubProc;
  let a: AgentProc;
  let b: AgentProc;

  it('the hub starts, serves health and writes its admin token with mode 0600', async () => {
    hub = await startHubProcess();
    procs.push(hub);
    expect((await http('GET', `${hub.url}/v1/health`)).body).toMatchObject({ ok: true });
    expect((await stat(path.join(hub.dataDir, 'admin.token'))).mode & 0o777).toBe(0o600);
  });

  it('two agents enrol with a config token and show online', async () => {
    const tok = await http('POST', `${hub.url}/v1/agent-tokens`, { name: 'test', maxUses: 2 }, hub.adminToken);
    expect(tok.status).toBe(201);
    [a, b] = await Promise.all([
      startAgentProcess({ name: 'alpha', token: tok.body.token }),
      startAgentProcess({ name: 'beta', token: tok.body.token }),
    ]);
    procs.push(a, b);
    expect((await stat(path.join(a.dataDir, 'identity.json'))).mode & 0o777).toBe(0o600);
    const list = await waitFor('both agents online', async () => {
      const r = await http('GET', `${hub.url}/v1/servers`, undefined, hub.adminToken);
      return r.body.items.filter((s: any) => s.status === 'online').length === 2 && r.body.items;
    });
    expect(list.map((s: any) => s.name).sort()).toEqual(['alpha', 'beta']);
    const alpha = list.find((s: any) => s.name === 'alpha');
    expect(alpha.dataPort).toBe(a.dataPort);
    expect(alpha.certFingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    expect(Math.abs(alpha.clockSkewMs)).toBeLessThan(5000);
  });

  it('the agent runs below the default CPU priority (nice 10), every thread of it', async () => {
    const tasks = await readdir(`/proc/${a.child.pid}/task`);
    expect(tasks.length).toBeGreaterThan(1);
    for (const tid of tasks) {
      // Field 19 of /proc/<pid>/task/<tid>/stat is the nice value (after the parenthesised command name).
      const fields = (await readFile(`/proc/${a.child.pid}/task/${tid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      expect(Number(fields[16])).toBe(10);
    }
  });

  it('the agent data port serves health over HTTPS with the registered certificate', async () => {
    const { request, Agent } = await import('undici');
    const res = await request(`https://127.0.0.1:${a.dataPort}/v1/health`, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) });
    expect(await res.body.json()).toMatchObject({ ok: true, serverId: a.serverId, name: 'alpha' });
  });

  it('a no-op command queued on the hub is run by the agent and its result recorded', async () => {
    const cmd = await http('POST', `${hub.url}/v1/servers/${a.serverId}/commands`, { kind: 'noop', payload: { hello: 'alpha' } }, hub.adminToken);
    expect(cmd.status).toBe(201);
    const done = await waitFor('command result', async () => {
      const r = await http('GET', `${hub.url}/v1/commands/${cmd.body.id}`, undefined, hub.adminToken);
      return r.body.status === 'succeeded' && r.body;
    });
    expect(done.result).toMatchObject({ pong: true, echo: { hello: 'alpha' } });
  });

  it('the hub stops and restarts; agents keep running and reconnect by themselves', async () => {
    await hub.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();
    const restartedAt = Date.now();
    hub = await startHubProcess({ dataDir: hub.dataDir, port: hub.port });
    procs.push(hub);
    await waitFor('agents back online after hub restart', async () => {
      const r = await http('GET', `${hub.url}/v1/servers`, undefined, hub.adminToken);
      return r.body.items.every((s: any) => s.status === 'online' && Date.parse(s.lastSeenAt) >= restartedAt);
    }, 40_000);
    const cmd = await http('POST', `${hub.url}/v1/servers/${b.serverId}/commands`, { kind: 'noop' }, hub.adminToken);
    await waitFor('command after restart', async () =>
      (await http('GET', `${hub.url}/v1/commands/${cmd.body.id}`, undefined, hub.adminToken)).body.status === 'succeeded');
  });

  it('the CLI lists servers as JSON with the token from the hub data dir', async () => {
    const { execFile } = await import('node:child_process');
    const { TANDEM_BIN } = await import('./support/processes');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [TANDEM_BIN, '--hub', hub.url, '--json', 'server', 'ls'], { cwd: path.dirname(hub.dataDir), env: { ...process.env, TANDEM_DATA_DIR: hub.dataDir } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))));
    expect(JSON.parse(out).map((s: any) => s.name).sort()).toEqual(['alpha', 'beta']);
  });

  it('the CLI prints one clear line and exits non-zero on errors', async () => {
    const { execFile } = await import('node:child_process');
    const { TANDEM_BIN } = await import('./support/processes');
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(process.execPath, [TANDEM_BIN, '--hub', hub.url, '--api-token', 'tnd_api_wrong', 'server', 'ls'],
        (err, _o, stderr) => resolve({ code: err ? (err as any).code : 0, stderr })));
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('(unauthorized)');
  });
});
