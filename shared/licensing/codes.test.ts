import { describe, it, expect } from 'vitest';
import { ALPHABET, formatCode, normalizeCode } from './checked-code';
import {
  makeLicenceCode, readLicenceCode, verifyLicenceCode, makeRequestCode, readRequestCode, makeActivationKey,
  verifyActivationKey, checkKeyMatchesRequest, hostFingerprint, randomSerial,
} from './codes';
import { LicenceType, Edition } from './model';

const SECRET = 'issuer-secret-for-tests';
const code = (over: Partial<Parameters<typeof makeLicenceCode>[0]> = {}) =>
  makeLicenceCode({ type: 'single', edition: 'standard', requiresActivation: true, expiresAt: null, serial: 123456789, ...over }, SECRET);

function errCode(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}
async function errCodeAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try { await fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

describe('licence codes', () => {
  it('are 24 base32 characters shown in groups of four', async () => {
    const c = await code();
    expect(c).toMatch(new RegExp(`^[${ALPHABET}]{24}$`));
    expect(formatCode(c)).toMatch(/^([0-9A-Z]{4}-){5}[0-9A-Z]{4}$/);
  });

  it('round-trip every type and edition, with and without an expiry', async () => {
    for (const type of LicenceType.options) {
      for (const edition of Edition.options) {
        const expiresAt = Date.UTC(2031, 4, 17);
        const serial = randomSerial();
        const c = await code({ type, edition, expiresAt, serial, requiresActivation: type === 'single' });
        const f = await verifyLicenceCode(c, SECRET);
        expect(f).toEqual({ type, edition, expiresAt: Date.UTC(2031, 4, 18), serial, requiresActivation: type === 'single' });
      }
    }
    expect((await verifyLicenceCode(await code(), SECRET)).expiresAt).toBeNull();
  });

  it('are accepted in any case, with dashes, spaces, and I/L/O look-alikes', async () => {
    const c = await code();
    const messy = ` ${formatCode(c).toLowerCase()} `.replace(/1/g, 'l').replace(/0/g, 'o');
    expect(normalizeCode(messy)).toBe(c);
    expect(readLicenceCode(messy).serial).toBe(123456789);
  });

  it('catch every single mistyped character before any lookup', async () => {
    const c = await code();
    for (let i = 0; i < c.length; i++) {
      for (const ch of ALPHABET) {
        if (ch === c[i]) continue;
        const typo = c.slice(0, i) + ch + c.slice(i + 1);
        expect(errCode(() => readLicenceCode(typo)), `${typo}`).toBe('code_typo');
      }
    }
  });

  it('catch every swap of two neighbouring characters', async () => {
    const c = await code();
    for (let i = 0; i < c.length - 1; i++) {
      if (c[i] === c[i + 1]) continue;
      const swapped = c.slice(0, i) + c[i + 1] + c[i] + c.slice(i + 2);
      expect(errCode(() => readLicenceCode(swapped))).toBe('code_typo');
    }
  });

  it('refuse the wrong length or characters as malformed', () => {
    expect(errCode(() => readLicenceCode('ABCD-EFGH'))).toBe('code_malformed');
    expect(errCode(() => readLicenceCode('ABCD-EFGH-JKMN-PQRS-TVWX-YZ0U'))).toBe('code_malformed');
  });

  it('tell a forged code (valid checksum, wrong MAC) from a real one', async () => {
    const real = await code();
    // A forger who knows the format can flip the serial and recompute the checksum, but not the MAC.
    const forged = await makeLicenceCode({ type: 'single', edition: 'enterprise', requiresActivation: false, expiresAt: null, serial: 1 }, 'guessed-secret');
    expect(readLicenceCode(forged).edition).toBe('enterprise');
    expect(await errCodeAsync(() => verifyLicenceCode(forged, SECRET))).toBe('licence_code_forged');
    expect(await errCodeAsync(() => verifyLicenceCode(real, 'another-hub'))).toBe('licence_code_forged');
  });
});

describe('activation request codes and keys', () => {
  it('the host fingerprint depends on machine id and the case of the hostname', async () => {
    const a = await hostFingerprint('m1', 'web1');
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(await hostFingerprint('m1', 'web1')).toBe(a);
    expect(await hostFingerprint('m1', 'WEB1')).not.toBe(a);
    expect(await hostFingerprint('m2', 'web1')).not.toBe(a);
  });

  it('a request code carries the host fingerprint and a nonce; a licence code is not a request code', async () => {
    const host = await hostFingerprint('m1', 'web1');
    const r = makeRequestCode(host);
    expect(readRequestCode(r).host).toBe(host);
    expect(errCode(() => readRequestCode(formatCode(r).toLowerCase()))).toBeUndefined();
    expect(errCode(() => readRequestCode(r.replace(/^./, r[0] === 'A' ? 'B' : 'A')))).toBe('code_typo');
    expect(errCode(() => readLicenceCode(r))).toBe('code_wrong_kind');
  });

  it('an activation key answers one request: the host checks the binding, the hub checks the MAC', async () => {
    const req = readRequestCode(makeRequestCode(await hostFingerprint('m1', 'web1')));
    const key = await makeActivationKey(42, req, SECRET);
    expect(key).toHaveLength(24);
    expect((await checkKeyMatchesRequest(key, req)).serial).toBe(42);
    expect((await verifyActivationKey(key, req, SECRET)).serial).toBe(42);
    const other = readRequestCode(makeRequestCode(await hostFingerprint('m2', 'db1')));
    expect(await errCodeAsync(() => checkKeyMatchesRequest(key, other))).toBe('activation_key_wrong_host');
    const forgedKey = await makeActivationKey(42, req, 'forger');
    expect(await errCodeAsync(() => verifyActivationKey(forgedKey, req, SECRET))).toBe('activation_key_forged');
  });
});
