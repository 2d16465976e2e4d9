// E-mail over SMTP with nodemailer (Node only: imported by hub/node.ts and tests, never by the Workers bundle).
import nodemailer from 'nodemailer';
import type { EmailMessage, EmailResult, EmailTransport, SmtpSettings } from './types';

export interface SmtpTransportOptions {
  /** Connection, greeting and socket timeout in ms. */
  timeoutMs?: number;
  /** Extra TLS options, e.g. `{ rejectUnauthorized: false }` or a test CA. */
  tls?: { rejectUnauthorized?: boolean; ca?: string | Buffer };
}

export function createSmtpTransport(opts: SmtpTransportOptions = {}): EmailTransport {
  const timeout = opts.timeoutMs ?? 30_000;
  return {
    kind: 'smtp',
    async send(smtp: SmtpSettings, msg: EmailMessage): Promise<EmailResult> {
      const transport = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.tls === 'implicit',
        requireTLS: smtp.tls === 'starttls',
        ignoreTLS: smtp.tls === 'none',
        auth: smtp.username ? { user: smtp.username, pass: smtp.password ?? '' } : undefined,
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        tls: opts.tls,
        logger: false,
        debug: false,
      });
      try {
        const info = await transport.sendMail({ from: msg.from, to: msg.to, subject: msg.subject, text: msg.text });
        const rejected = (info.rejected ?? []).map(String);
        return rejected.length && rejected.length === msg.to.length
          ? { ok: false, response: info.response, error: `all recipients rejected: ${rejected.join(', ')}` }
          : { ok: true, response: info.response, messageId: info.messageId };
      } catch (err) {
        const e = err as Error & { code?: string; response?: string; responseCode?: number };
        return { ok: false, response: e.response, error: [e.code, e.message].filter(Boolean).join(': ') };
      } finally {
        transport.close();
      }
    },
  };
}
