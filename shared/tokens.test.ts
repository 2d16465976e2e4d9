import { describe, it, expect } from 'vitest';
import { generateSigningKey, signHubJwt, verifyHubJwt, hashSecret, randomSecret } from './tokens';

describe('hub JWTs', () => {
  it('a token signed by the hub verifies and carries its claims', async () => {
    const key = await generateSigningKey();
    const t = await signHubJwt(key, 'agent-config', { sub: 'atk_1', hub: 'http://h' }, Math.floor(Date.now() / 1000) + 60);
    const p = await verifyHubJwt<{ hub: string; sub?: string }>(t, [key.publicJwk], 'agent-config');
    expect(p.hub).toBe('http://h');
    expect(p.sub).toBe('atk_1');
  });

  it('an expired token is refused with token_expired', async () => {
    const key = await generateSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const t = await signHubJwt(key, 'agent-config', {}, now + 10);
    await expect(verifyHubJwt(t, [key.publicJwk], 'agent-config', now + 11)).rejects.toMatchObject({ code: 'token_expired', status: 401 });
  });

  it('a token signed by another key with the same kid is refused as forged', async () => {
    const real = await generateSigningKey();
    const forger = await generateSigningKey();
    const t = await signHubJwt({ ...forger, kid: real.kid }, 'agent-config', {}, Math.floor(Date.now() / 1000) + 60);
    await expect(verifyHubJwt(t, [real.publicJwk], 'agent-config')).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('a token of another kind is refused', async () => {
    const key = await generateSigningKey();
    const t = await signHubJwt(key, 'job', {}, Math.floor(Date.now() / 1000) + 60);
    await expect(verifyHubJwt(t, [key.publicJwk], 'agent-config')).rejects.toMatchObject({ code: 'token_wrong_type' });
  });

  it('garbage is refused as malformed', async () => {
    const key = await generateSigningKey();
    await expect(verifyHubJwt('not-a-jwt', [key.publicJwk], 'agent-config')).rejects.toMatchObject({ code: 'token_malformed' });
  });

  it('secrets hash deterministically and differently', async () => {
    const a = randomSecret('tnd');
    expect(a.startsWith('tnd_')).toBe(true);
    expect(await hashSecret(a)).toBe(await hashSecret(a));
    expect(await hashSecret(a)).not.toBe(await hashSecret(randomSecret('tnd')));
  });
});
