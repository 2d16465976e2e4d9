import { describe, it, expect } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSigningKey } from '../../shared/tokens';
import { hostFingerprint, makeActivationKey, readRequestCode, signLicenceFile, DAY_MS } from '../../shared/licensing';
import {
  createActivationRequest, enterActivationKey, installLicenceFile, installedLicences, localRefusal, saveHubJwks, type HostIdentity,
} from './local';

const NOW = Date.UTC(2030, 5, 1);
async function host(name = 'web1'): Promise<HostIdentity> {
  return { machineId: `m-${name}`, hostname: name, fingerprint: await hostFingerprint(`m-${name}`, name), cpus: 2, memoryMB: 4096 };
}
async function signed(h: HostIdentity, key: Awaited<ReturnType<typeof generateSigningKey>>, ttlMs = 30 * DAY_MS) {
  return signLicenceFile(key, {
    sub: 'TL-00000042', org: 'org_a', code: 'C'.repeat(24), type: 'single', edition: 'standard', host: h.fingerprint, hostname: h.hostname,
    serverId: 'srv_1', assignment: 'las_1', licenceExpiresAt: null, quantity: null, transfersUsed: 0,
  }, NOW + ttlMs);
}

describe('host-side licences', () => {
  it('installs a file offline with the stored hub key, refuses one for another host, and re-verifies over time', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-lic-'));
    const key = await generateSigningKey();
    const h = await host();
    await expect(installLicenceFile(dir, h, await signed(h, key), NOW)).rejects.toMatchObject({ code: 'hub_keys_missing' });
    await saveHubJwks(dir, [key.publicJwk]);
    expect((await installLicenceFile(dir, h, await signed(h, key), NOW)).sub).toBe('TL-00000042');
    await expect(installLicenceFile(dir, await host('db1'), await signed(h, key), NOW)).rejects.toMatchObject({ code: 'licence_file_wrong_host' });
    expect((await installedLicences(dir, h, NOW)).map((l) => l.status)).toEqual(['valid']);
    // Renamed host (case change) or a lapsed file: new protection refused, recovery never.
    const renamed = { ...h, hostname: 'WEB1', fingerprint: await hostFingerprint(h.machineId, 'WEB1') };
    expect((await installedLicences(dir, renamed, NOW)).map((l) => l.status)).toEqual(['wrong_host']);
    const later = await installedLicences(dir, h, NOW + 31 * DAY_MS);
    expect(later.map((l) => l.status)).toEqual(['expired']);
    expect(localRefusal('start_job', later)).toMatchObject({ code: 'licence_file_expired' });
    expect(localRefusal('failover', later)).toBeNull();
    expect(localRefusal('restore', [])).toBeNull();
    expect(localRefusal('start_job', [])).toMatchObject({ code: 'licence_missing' });
    expect(localRefusal('start_job', await installedLicences(dir, h, NOW))).toBeNull();
  });

  it('an activation key is accepted only for this host\'s current request', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tandem-lic-'));
    const h = await host();
    await expect(enterActivationKey(dir, h, 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA')).rejects.toMatchObject({ code: 'activation_request_missing' });
    const first = await createActivationRequest(dir, h, { now: NOW });
    const keyForFirst = await makeActivationKey(7, readRequestCode(first.requestCode), 'hub-secret');
    const second = await createActivationRequest(dir, h, { now: NOW });
    expect(second.file).toMatchObject({ kind: 'tandem-activation-request', hostname: 'web1' });
    await expect(enterActivationKey(dir, h, keyForFirst)).rejects.toMatchObject({ code: 'activation_key_wrong_host' });
    const ok = await enterActivationKey(dir, h, await makeActivationKey(7, readRequestCode(second.requestCode), 'hub-secret'));
    expect(ok.serial).toBe('TL-00000007');
  });
});
