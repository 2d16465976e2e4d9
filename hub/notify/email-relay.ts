// E-mail on Workers, where SMTP sockets are not available: POST the message as JSON to an operator-run HTTP relay.
// Contract (documented in infra/README-notifications.md): POST <url>, Authorization: Bearer <token>,
// body {from, to[], subject, text, smtp:{host,port,tls}} → 2xx {ok, response?, messageId?} or non-2xx with a reason.
import type { EmailMessage, EmailResult, EmailTransport, SmtpSettings } from './types';

export interface RelayOptions {
  url: string;
  token?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export function createRelayEmailTransport(opts: RelayOptions): EmailTransport {
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  return {
    kind: 'relay',
    async send(smtp: SmtpSettings, msg: EmailMessage): Promise<EmailResult> {
      try {
        const res = await doFetch(opts.url, {
          method: 'POST',
          signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
          headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
          // The SMTP password stays in the hub: a relay uses its own provider credentials.
          body: JSON.stringify({ ...msg, smtp: { host: smtp.host, port: smtp.port, tls: smtp.tls } }),
        });
        const text = (await res.text()).slice(0, 2000);
        let json: { ok?: boolean; response?: string; messageId?: string; error?: string } = {};
        try { json = JSON.parse(text); } catch { /* a relay may answer plain text */ }
        if (!res.ok || json.ok === false) return { ok: false, response: json.response, error: json.error ?? `relay answered HTTP ${res.status}: ${text.slice(0, 200)}` };
        return { ok: true, response: json.response ?? `relay HTTP ${res.status}`, messageId: json.messageId };
      } catch (err) {
        const e = err as Error;
        return { ok: false, error: e.name === 'TimeoutError' ? 'the e-mail relay did not answer in time' : e.message };
      }
    },
  };
}
