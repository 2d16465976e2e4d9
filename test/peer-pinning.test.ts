// The source pins the target's TLS certificate to the fingerprint the hub registered at enrolment: a target with
// another certificate, or another process on the target's data port, gets no job token and no data, and the job
// says why. Real hub and agents on 127.0.0.1.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { startCluster, filesJob, type Cluster } from './support/cluster';
import { startAgentProcess, tempDir, waitFor } from './support/processes';
import { snapshotTree, diffTrees } from './support/trees';
import { certFingerprint, loadOrCreateTlsIdentity } from '../agent/tls';

let c: Cluster;
beforeAll(async () => { c = await startCluster(); });
afterAll(async () => { await c?.stop(); });
afterEach(async () => { await c?.ensureRunning(); });

const mirrored = (j: any) => j.state === 'protecting' && j.mirrorStatus === 'idle' && j.targetDataState === 'ok';
const MISMATCH = /presented certificate .* not the registered .* Refusing to send data/;

async function identical(src: string, dst: string) {
  await waitFor('trees identical', async () => diffTrees(await snapshotTree(src, { dirMtimes: false }), await snapshotTree(dst, { dirMtimes: false })).length === 0, 30_000);
}

/** Starts beta again on its data dir and port (after its process was stopped). */
async function startTarget() {
  c.target = await startAgentProcess({ name: 'beta', dataDir: c.target.dataDir, port: c.target.dataPort });
}

describe('pinned peer certificate', () => {
  it('a target whose certificate changed after enrolment gets no data and the job says why; with the registered certificate back it mirrors', async () => {
    const tlsDir = path.join(c.target.dataDir, 'tls');
    const registered = certFingerprint(await fs.readFile(path.join(tlsDir, 'cert.pem'), 'utf8'));
    expect((await c.api('GET', '/v1/servers/beta')).body.certFingerprint).toBe(registered);
    // Between enrolment and the job: beta comes back with a new key and certificate (its tls dir was replaced).
    await c.target.stop('SIGTERM');
    await fs.rename(tlsDir, `${tlsDir}.registered`);
    await startTarget();
    const presented = certFingerprint(await fs.readFile(path.join(tlsDir, 'cert.pem'), 'utf8'));
    expect(presented).not.toBe(registered);
    // beta still reaches the hub (its credential is not the certificate), and the hub still pins the registered one.
    await waitFor('beta online', async () => (await c.api('GET', '/v1/servers/beta')).body.status === 'online', 15_000);
    expect((await c.api('GET', '/v1/servers/beta')).body.certFingerprint).toBe(registered);

    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'secret.txt'), 'must not reach an unverified peer');
    const job = await c.api('POST', '/v1/jobs', filesJob('pinned', src, dst));
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    try {
      const refused = await c.waitJob('the refusal shown on the job', job.body.id, (j) => MISMATCH.test(j.activity ?? ''), 20_000);
      expect(refused.activity).toContain(presented);
      expect(refused.activity).toContain(registered);
      expect(refused.mirrorStatus).not.toBe('idle');
      expect(refused.targetDataState).not.toBe('ok');
      expect(refused.health).not.toBe('healthy');
      expect(refused.warnings.map((w: any) => w.code)).toContain('peer_cert_mismatch');
      expect(refused.warnings.find((w: any) => w.code === 'peer_cert_mismatch').message).toMatch(MISMATCH);
      // Retries keep being refused; nothing reaches the target.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await fs.readdir(dst)).toEqual([]);
    } finally {
      await c.target.stop('SIGTERM');
      await fs.rm(tlsDir, { recursive: true, force: true });
      await fs.rename(`${tlsDir}.registered`, tlsDir);
      await startTarget();
    }
    const done = await c.waitJob('mirror with the registered certificate', job.body.id, mirrored, 30_000);
    expect(done.activity).not.toMatch(MISMATCH);
    expect(done.warnings.map((w: any) => w.code)).not.toContain('peer_cert_mismatch');
    await identical(src, dst);
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  });

  it('another process on the target\'s data port gets connections but no request: no job token, no data; the real target catches up', async () => {
    const src = await tempDir('src');
    const dst = await tempDir('dst');
    await fs.writeFile(path.join(src, 'before.txt'), 'mirrored to the real target');
    const job = await c.api('POST', '/v1/jobs', filesJob('impostor', src, dst));
    await c.waitJob('mirror', job.body.id, mirrored);
    // beta goes away and an impostor with its own certificate takes its port.
    await c.target.stop('SIGKILL');
    const identity = await loadOrCreateTlsIdentity(await tempDir('impostor'), 'beta');
    let connections = 0;
    const requests: string[] = [];
    const impostor = https.createServer({ key: identity.key, cert: identity.cert }, (req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"epoch":1,"ackedSeq":1000000}');
    });
    // The source hangs up as soon as it has seen the certificate, before the server side of the handshake completes.
    impostor.on('connection', () => { connections++; });
    await new Promise<void>((resolve, reject) => impostor.once('error', reject).listen(c.target.dataPort, '127.0.0.1', () => resolve()));
    try {
      await fs.writeFile(path.join(src, 'after.txt'), 'written while an impostor holds the port');
      await waitFor('the source trying the impostor', () => connections >= 1, 20_000);
      const refused = await c.waitJob('the refusal shown on the job', job.body.id, (j) => MISMATCH.test(j.stats.replication?.lastError ?? ''), 20_000);
      expect(refused.health).toBe('error');
      expect(refused.warnings.map((w: any) => w.code)).toContain('peer_cert_mismatch');
      expect(refused.stats.replication.opsQueued).toBeGreaterThanOrEqual(1);
      expect(requests).toEqual([]);
    } finally {
      impostor.closeAllConnections();
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
    await startTarget();
    await identical(src, dst);
    expect(await fs.readFile(path.join(dst, 'after.txt'), 'utf8')).toBe('written while an impostor holds the port');
    await c.api('DELETE', `/v1/jobs/${job.body.id}`);
  });
});
