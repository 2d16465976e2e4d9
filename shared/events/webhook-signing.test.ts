import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, isValidWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from './webhook-signing';

describe('Standard Webhooks signing', () => {
  it('signs id.timestamp.body with HMAC-SHA256 of the base64-decoded whsec_ secret', async () => {
    const secret = generateWebhookSecret();
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = 'v1,' + createHmac('sha256', key).update('msg_1.1700000000.{"a":1}').digest('base64');
    expect(await signWebhook(secret, 'msg_1', 1700000000, '{"a":1}')).toBe(expected);
  });
  it('matches the example of the Standard Webhooks spec', async () => {
    // From standard-webhooks/libraries test vectors.
    const sig = await signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
  it('verifies, rejects tampering and stale timestamps, and accepts one of several signatures', async () => {
    const secret = generateWebhookSecret();
    const h = await webhookHeaders(secret, 'msg_2', 1000, 'body');
    const ok = { id: h['webhook-id'], timestamp: h['webhook-timestamp'], signature: h['webhook-signature'] };
    expect(await verifyWebhook(secret, ok, 'body', 1000)).toBe(true);
    expect(await verifyWebhook(secret, ok, 'body!', 1000)).toBe(false);
    expect(await verifyWebhook(secret, ok, 'body', 1000 + 301)).toBe(false);
    expect(await verifyWebhook(generateWebhookSecret(), ok, 'body', 1000)).toBe(false);
    expect(await verifyWebhook(secret, { ...ok, signature: `v1,AAAA ${ok.signature}` }, 'body', 1000)).toBe(true);
  });
  it('accepts only whsec_ secrets of 24 to 64 bytes', () => {
    expect(isValidWebhookSecret(generateWebhookSecret())).toBe(true);
    expect(isValidWebhookSecret('whsec_' + Buffer.alloc(16).toString('base64'))).toBe(false);
    expect(isValidWebhookSecret('secret')).toBe(false);
    expect(isValidWebhookSecret('whsec_not base64!')).toBe(false);
  });
});
