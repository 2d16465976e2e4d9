import { describe, expect, it } from 'vitest';
import { createRelayEmailTransport } from './email-relay';

const smtp = { host: 'smtp.example.com', port: 587, tls: 'starttls' as const, username: 'u', password: 'never-sent' };
const msg = { from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' };

describe('e-mail relay transport (Workers)', () => {
  it('POSTs the message with the bearer token and without the SMTP password', async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const t = createRelayEmailTransport({
      url: 'https://relay.example.com/send', token: 'tok',
      fetch: (async (url: string, init: RequestInit) => { seen = { url, init }; return new Response(JSON.stringify({ ok: true, messageId: 'm1', response: '250 OK' })); }) as never,
    });
    expect(await t.send(smtp, msg)).toEqual({ ok: true, response: '250 OK', messageId: 'm1' });
    expect(seen!.url).toBe('https://relay.example.com/send');
    expect((seen!.init.headers as Record<string, string>).authorization).toBe('Bearer tok');
    expect(JSON.parse(String(seen!.init.body))).toEqual({ ...msg, smtp: { host: 'smtp.example.com', port: 587, tls: 'starttls' } });
    expect(String(seen!.init.body)).not.toContain('never-sent');
  });
  it('reports relay errors', async () => {
    const t = createRelayEmailTransport({ url: 'https://r', fetch: (async () => new Response('nope', { status: 503 })) as never });
    expect(await t.send(smtp, msg)).toMatchObject({ ok: false, error: expect.stringContaining('HTTP 503') });
  });
});
