// Runtime-neutral interfaces of the notification channels; Node injects nodemailer, Workers an HTTP relay.

export type SmtpTlsMode = 'none' | 'starttls' | 'implicit';

export interface SmtpSettings {
  host: string;
  port: number;
  tls: SmtpTlsMode;
  username?: string | null;
  password?: string | null;
}

export interface EmailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export interface EmailResult {
  ok: boolean;
  /** The server's final reply (e.g. "250 2.0.0 OK queued") or the relay's answer. */
  response?: string;
  messageId?: string;
  error?: string;
}

/** Sends one message; must resolve (never hang past its own timeouts) and never log the password. */
export interface EmailTransport {
  readonly kind: 'smtp' | 'relay';
  send(smtp: SmtpSettings, msg: EmailMessage): Promise<EmailResult>;
}

/** Which webhook targets are allowed: a multi-tenant hub refuses private and loopback addresses unless allow-listed. */
export interface TargetPolicy {
  multiTenant: boolean;
  /** Hostnames, IP addresses or CIDR ranges allowed even when private (self-hosted exceptions). */
  allow: string[];
}

export const SELF_HOSTED_POLICY: TargetPolicy = { multiTenant: false, allow: [] };

export interface NotifyTimeouts {
  /** Webhook request timeout (Standard Webhooks suggests 15–30 s). */
  webhookMs: number;
  /** SMTP connection, greeting and socket timeout. */
  smtpMs: number;
}

export const DEFAULT_TIMEOUTS: NotifyTimeouts = { webhookMs: 15_000, smtpMs: 30_000 };
