// Request schemas of the events, e-mail and webhook APIs: validated by the hub, used by the CLI, documented in OpenAPI.
import { z } from 'zod';
import { SEVERITIES, type Severity } from './catalog';
import { NotifyFilter } from './filter';

const SeverityEnum = z.enum(SEVERITIES as [Severity, ...Severity[]]);

/** `since`: an ISO time, epoch milliseconds, or a span back from now such as `15m`, `2h`, `7d`. */
export function parseSince(value: string, now: number): number | null {
  const v = value.trim();
  const span = /^(\d+)\s*(s|m|h|d)$/.exec(v);
  if (span) return now - Number(span[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{10,}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

const severityRank: Record<Severity, number> = { info: 0, warning: 1, error: 2 };
/** `severity=warning` means warning and worse. */
export function severitiesAtLeast(min: Severity): Severity[] {
  return SEVERITIES.filter((s) => severityRank[s] >= severityRank[min]);
}

export const EventsQuery = z.strictObject({
  since: z.string().max(40).optional(),
  severity: SeverityEnum.optional(),
  job: z.string().max(100).optional(),
  server: z.string().max(100).optional(),
  /** Comma-separated event names. */
  type: z.string().max(2000).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

const Hostname = z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/, 'a host name or IP address');
const Address = z.email({ message: 'not a valid e-mail address' }).max(254);

export const EmailSettingsPut = z.strictObject({
  enabled: z.boolean().default(true),
  host: Hostname,
  /** Default 465 for implicit TLS, 587 for STARTTLS, 25 otherwise. */
  port: z.number().int().min(1).max(65535).optional(),
  tls: z.enum(['none', 'starttls', 'implicit']).default('starttls'),
  username: z.string().min(1).max(256).nullable().optional(),
  /** Write-only: absent keeps the stored password, null clears it. */
  password: z.string().min(1).max(1024).nullable().optional(),
  from: Address,
  recipients: z.array(Address).min(1, 'at least one recipient').max(50, 'at most 50 recipients'),
  subjectPrefix: z.string().max(64).regex(/^[^\r\n]*$/, 'one line').default('[Tandem]'),
  includeText: z.boolean().default(true),
  filter: NotifyFilter.default({}),
});
export type EmailSettingsPut = z.infer<typeof EmailSettingsPut>;

export const EmailTestRequest = z.strictObject({
  /** Send the test to these addresses instead of the configured recipients. */
  to: z.array(Address).min(1).max(10).optional(),
});

export const WebhookFormat = z.enum(['standard', 'slack', 'teams']);

export const WebhookCreate = z.strictObject({
  url: z.string().min(1).max(2048),
  /** `whsec_` + base64 of 24–64 random bytes; write-only (the CLI generates one and shows it once). */
  secret: z.string().max(200),
  name: z.string().min(1).max(100).optional(),
  format: WebhookFormat.default('standard'),
  filter: NotifyFilter.default({}),
  enabled: z.boolean().default(true),
});
export type WebhookCreate = z.infer<typeof WebhookCreate>;

export const WebhookPatch = z.strictObject({
  url: z.string().min(1).max(2048).optional(),
  secret: z.string().max(200).optional(),
  name: z.string().min(1).max(100).nullable().optional(),
  format: WebhookFormat.optional(),
  filter: NotifyFilter.optional(),
  /** true re-enables an endpoint disabled by a 410 or by exhausted retries. */
  enabled: z.boolean().optional(),
});
