// Licensing with a real hub and a real agent process: online activation pushes a signed file to the agent; the
// portal-style key and the offline request file work through the `tandem license` CLI; files verify with the hub down.
import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHubProcess, startAgentProcess, http, waitFor, tempDir, TANDEM_BIN, type HubProc, type AgentProc } from './support/processes';

const run = promisify(execFile);
const procs: Array<{ stop(s?: NodeJS.Signals): Promise<void> }> = [];
afterAll(async () => { await Promise.all(procs.map((p) => p.stop('SIGKILL'))); });

async function tandem(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(process.execPath, [TANDEM_BIN, ...args], { env: { ...process.env, ...env } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe('licensing with real processes', () => {
  let hub: HubProc;
  let agent: AgentProc;
  let issuer: string;
  const codes: string[] = [];

  it('an enrolled agent without a licence reports its host identity to the hub', async () => {
    // No evaluation licence: these tests start from a host with none.
    hub = await startHubProcess({ env: { TANDEM_TRIAL_DAYS: '0' } });
    procs.push(hub);
    issuer = (await http('POST', `${hub.url}/v1/api-tokens`, { name: 'vendor', role: 'issuer' }, hub.adminToken)).body.token;
    const tok = await http('POST', `${hub.url}/v1/agent-tokens`, { name: 'lic' }, hub.adminToken);
    agent = await startAgentProcess({ name: 'lic-a', token: tok.body.token, pollWait: 1 });
    procs.push(agent);
    const issued = await http('POST', `${hub.url}/v1/licences/issue`, { orgId: 'org_default', type: 'single', edition: 'enterprise', count: 3 }, issuer);
    codes.push(...issued.body.items.map((i: { code: string }) => i.code));
    const s = await waitFor('licence report in the poll state', async () => {
      const r = await http('GET', `${hub.url}/v1/servers/${agent.serverId}`, undefined, hub.adminToken);
      return r.body;
    });
    expect(s.name).toBe('lic-a');
    const status = await tandem(['license', 'status', '--agent-dir', agent.dataDir]);
    expect(status.out).toMatch(/no licence installed/);
  });

  it('online activation: the hub pushes a signed licence file that the agent verifies and installs', async () => {
    const add = await tandem(['license', 'add', codes[0]!], { TANDEM_HUB: hub.url, TANDEM_API_TOKEN: hub.adminToken });
    expect(add.code, add.err).toBe(0);
    const act = await tandem(['license', 'activate', codes[0]!, '--server', 'lic-a'], { TANDEM_HUB: hub.url, TANDEM_API_TOKEN: hub.adminToken });
    expect(act.code, act.err).toBe(0);
    await waitFor('licence file on the agent', async () => (await readdir(path.join(agent.dataDir, 'licence', 'files')).catch(() => [])).length === 1);
    const st = await tandem(['--json', 'license', 'status', '--agent-dir', agent.dataDir]);
    const json = JSON.parse(st.out);
    expect(json.licences).toEqual([expect.objectContaining({ status: 'valid', claims: expect.objectContaining({ edition: 'enterprise', serverId: agent.serverId }) })]);
    const ls = await tandem(['license', 'ls'], { TANDEM_HUB: hub.url, TANDEM_API_TOKEN: hub.adminToken });
    expect(ls.out).toMatch(/activated\s+lic-a\s+Activated/);
  });

  it('portal-style: the host shows a request code, the operator gets a key, the host activates with it', async () => {
    const req = await tandem(['--json', 'license', 'request', '--agent-dir', agent.dataDir]);
    expect(req.code, req.err).toBe(0);
    const { requestCode } = JSON.parse(req.out);
    expect(requestCode.replace(/-/g, '')).toHaveLength(24);
    const key = await tandem(['--json', 'license', 'key', codes[1]!, '--request', requestCode], { TANDEM_HUB: hub.url, TANDEM_API_TOKEN: hub.adminToken });
    expect(key.code, key.err).toBe(0);
    const { activationKey } = JSON.parse(key.out);
    // A mistyped key is caught on the host before anything else happens.
    const typo = await tandem(['license', 'activate', '--key', activationKey.replace(/^./, (c: string) => (c === 'A' ? 'B' : 'A')), '--agent-dir', agent.dataDir]);
    expect(typo.err).toMatch(/code_typo/);
    const act = await tandem(['license', 'activate', '--key', activationKey, '--agent-dir', agent.dataDir]);
    expect(act.code, act.err).toBe(0);
    expect(act.out).toMatch(/activated: licence TL-\w+ \(single, enterprise\) installed/);
  });

  it('offline: a request file becomes a licence file that installs with the hub stopped; tampering is refused', async () => {
    const reqFile = path.join(await tempDir('req'), 'request.json');
    const req = await tandem(['license', 'request', '--file', reqFile, '--code', codes[2]!, '--agent-dir', agent.dataDir]);
    expect(req.code, req.err).toBe(0);
    const res = await http('POST', `${hub.url}/v1/licences/activation-file`, { request: await readFile(reqFile, 'utf8') }, hub.adminToken);
    expect(res.status).toBe(200);
    const licFile = path.join(path.dirname(reqFile), 'tandem.lic');
    await writeFile(licFile, res.body.licenceFile);
    const badFile = path.join(path.dirname(reqFile), 'bad.lic');
    const lines = res.body.licenceFile.split('\n');
    lines[2] = lines[2].slice(0, 10) + (lines[2][10] === 'A' ? 'B' : 'A') + lines[2].slice(11);
    await writeFile(badFile, lines.join('\n'));
    await hub.stop('SIGKILL');
    const bad = await tandem(['license', 'install', badFile, '--agent-dir', agent.dataDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/licence_file_(invalid|malformed)/);
    const ok = await tandem(['license', 'install', licFile, '--agent-dir', agent.dataDir]);
    expect(ok.code, ok.err).toBe(0);
    const st = JSON.parse((await tandem(['--json', 'license', 'status', '--agent-dir', agent.dataDir])).out);
    expect(st.licences.filter((l: { status: string }) => l.status === 'valid')).toHaveLength(3);
  });
});
