import { describe, it, expect } from 'vitest';
import { generateSigningKey } from '../tokens';
import { signLicenceFile, verifyLicenceFile, peekLicenceFile, parseActivationRequestFile, type LicenceFileInput } from './licence-file';

const claims: LicenceFileInput = {
  sub: 'TL-00000001', org: 'org_a', code: 'X'.repeat(24), type: 'single', edition: 'standard', host: 'aaaaaaaaaaaaaaaa',
  hostname: 'web1', serverId: 'srv_1', assignment: 'las_1', licenceExpiresAt: null, quantity: null, transfersUsed: 0,
};
const NOW = Date.UTC(2030, 0, 1);

async function errCode(p: Promise<unknown>) {
  try { await p; } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

describe('licence files', () => {
  it('verify offline with only the public JWK and return the signed claims', async () => {
    const key = await generateSigningKey();
    const file = await signLicenceFile(key, claims, NOW + 86_400_000);
    expect(file).toMatch(/^-----BEGIN TANDEM LICENCE FILE-----\n/);
    const c = await verifyLicenceFile(file, [key.publicJwk], { now: NOW, hostFingerprint: 'aaaaaaaaaaaaaaaa' });
    expect(c).toMatchObject({ ...claims, exp: Math.floor((NOW + 86_400_000) / 1000) });
    expect(key.publicJwk).not.toHaveProperty('d');
  });

  it('refuse a tampered file, a file from another hub, an expired file and a file for another host', async () => {
    const key = await generateSigningKey();
    const file = await signLicenceFile(key, claims, NOW + 86_400_000);
    const lines = file.split('\n');
    const body = lines.slice(1, -2).join('');
    const [h, p, s] = body.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.edition = 'enterprise';
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    expect(await errCode(verifyLicenceFile(tampered, [key.publicJwk], { now: NOW }))).toBe('licence_file_invalid');
    const other = await generateSigningKey();
    expect(await errCode(verifyLicenceFile(file, [{ ...other.publicJwk, kid: key.kid }], { now: NOW }))).toBe('licence_file_invalid');
    expect(await errCode(verifyLicenceFile(file, [key.publicJwk], { now: NOW + 2 * 86_400_000 }))).toBe('licence_file_expired');
    expect(await errCode(verifyLicenceFile(file, [key.publicJwk], { now: NOW, hostFingerprint: 'bbbbbbbbbbbbbbbb' }))).toBe('licence_file_wrong_host');
    expect(await errCode(verifyLicenceFile('hello', [key.publicJwk], { now: NOW }))).toBe('licence_file_malformed');
  });

  it('never outlive the licence itself', async () => {
    const key = await generateSigningKey();
    const file = await signLicenceFile(key, { ...claims, licenceExpiresAt: NOW + 1000 * 3600 }, NOW + 30 * 86_400_000);
    expect(peekLicenceFile(file)!.exp).toBe(Math.floor((NOW + 3600_000) / 1000));
  });

  it('activation request files are validated strictly', () => {
    expect(() => parseActivationRequestFile('{')).toThrow(/not valid JSON/);
    expect(() => parseActivationRequestFile('{"kind":"x"}')).toThrow(/not a Tandem activation request/);
  });
});
