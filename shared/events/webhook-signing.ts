// Standard Webhooks signing (symmetric v1): HMAC-SHA256 over `id.timestamp.body` with a `whsec_` secret.
// Web Crypto only, so it runs on Node and Workers; receivers can use verifyWebhook() as a reference.

const enc = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A new secret: 32 random bytes, base64, with the `whsec_` prefix. */
export function generateWebhookSecret(): string {
  return 'whsec_' + b64(crypto.getRandomValues(new Uint8Array(32)));
}

/** `whsec_` + base64 of 24–64 bytes, as the spec recommends. */
export function isValidWebhookSecret(secret: string): boolean {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m) return false;
  try {
    const n = unb64(m[1]!).length;
    return n >= 24 && n <= 64;
  } catch {
    return false;
  }
}

async function hmac(secret: string, content: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', unb64(secret.replace(/^whsec_/, '')), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(content)));
}

/** The `webhook-signature` header value: `v1,<base64 signature>`. */
export async function signWebhook(secret: string, msgId: string, timestampSec: number, body: string): Promise<string> {
  return 'v1,' + b64(await hmac(secret, `${msgId}.${timestampSec}.${body}`));
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export async function webhookHeaders(secret: string, msgId: string, timestampSec: number, body: string): Promise<SignedHeaders> {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': await signWebhook(secret, msgId, timestampSec, body),
  };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

/**
 * Receiver side: true when one of the space-separated `v1,` signatures matches and the timestamp is within
 * `toleranceSec` of `nowSec` (replay protection, 5 minutes by default).
 */
export async function verifyWebhook(secret: string, headers: { id: string; timestamp: string; signature: string }, body: string, nowSec: number, toleranceSec = 300): Promise<boolean> {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = await signWebhook(secret, headers.id, ts, body);
  return headers.signature.split(' ').some((s) => constantTimeEqual(s, expected));
}
