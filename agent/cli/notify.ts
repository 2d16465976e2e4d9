// `tandem notify email show|set|test` and `tandem webhook add|ls|show|set|rm|test|deliveries|replay`.
import type { Command } from 'commander';
import { TandemError } from '../../shared/errors';
import { generateWebhookSecret } from '../../shared/events/webhook-signing';
import { hubClient, output, table } from './context';
import { wholeNumber } from './args';

const list = (v?: string) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
/** `--include 3001,licence.expiring` → [3001, 'licence.expiring']. */
const refs = (v?: string) => list(v)?.map((s) => (/^\d+$/.test(s) ? Number(s) : s));

function filterFrom(o: { severity?: string; include?: string; exclude?: string }) {
  const f: Record<string, unknown> = {};
  if (o.severity) f.severities = list(o.severity);
  if (o.include) f.include = refs(o.include);
  if (o.exclude) f.exclude = refs(o.exclude);
  return f;
}

const kv = (obj: Record<string, unknown>) => Object.entries(obj).map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`).join('\n');

export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('e-mail notifications');
  const email = notify.command('email').description('SMTP e-mail settings of the organisation');
  email.command('show').action(async (_o, cmd: Command) => {
    const s = await hubClient(cmd).call<Record<string, unknown>>('GET', '/v1/notifications/email');
    output(cmd, s, () => (s.configured ? kv(s) : 'e-mail notification is not configured (tandem notify email set --help)'));
  });
  email.command('set')
    .requiredOption('--host <host>', 'SMTP server')
    .requiredOption('--from <address>', 'sender address')
    .requiredOption('--to <addresses>', 'comma-separated recipients')
    .option('--port <port>', 'SMTP port (default 587 STARTTLS, 465 implicit, 25 none)', wholeNumber)
    .option('--tls <mode>', 'none, starttls or implicit', 'starttls')
    .option('--user <name>', 'SMTP user name')
    .option('--password-env <var>', 'read the SMTP password from this environment variable (kept if omitted)')
    .option('--subject-prefix <text>', 'subject prefix', '[Tandem]')
    .option('--no-text', 'leave the event text out of the message body')
    .option('--severity <levels>', 'only these severities, e.g. warning,error')
    .option('--include <events>', 'only these event ids or names')
    .option('--exclude <events>', 'never these event ids or names')
    .option('--disabled', 'store the settings but send nothing')
    .action(async (o, cmd: Command) => {
      let password: string | undefined;
      if (o.passwordEnv) {
        password = process.env[o.passwordEnv];
        if (!password) throw new TandemError('password_env_empty', `Environment variable ${o.passwordEnv} is empty or unset.`);
      }
      const body = {
        enabled: !o.disabled, host: o.host, port: o.port ? Number(o.port) : undefined, tls: o.tls, username: o.user ?? null,
        ...(password ? { password } : {}), from: o.from, recipients: list(o.to), subjectPrefix: o.subjectPrefix,
        includeText: o.text, filter: filterFrom(o),
      };
      const s = await hubClient(cmd).call<Record<string, unknown>>('PUT', '/v1/notifications/email', body);
      output(cmd, s, () => kv(s));
    });
  email.command('test').description('send a test message now and show the SMTP answer')
    .option('--to <addresses>', 'send to these instead of the configured recipients')
    .action(async (o, cmd: Command) => {
      const r = await hubClient(cmd).call<{ to: string[]; response: string | null }>('POST', '/v1/notifications/email/test', o.to ? { to: list(o.to) } : {});
      output(cmd, r, () => `sent to ${r.to.join(', ')}: ${r.response ?? 'ok'}`);
    });

  const hook = program.command('webhook').description('webhook endpoints (Standard Webhooks, Slack, Teams)');
  hook.command('add <url>')
    .option('--name <name>', 'a label')
    .option('--format <format>', 'standard, slack or teams', 'standard')
    .option('--secret <whsec>', 'signing secret (default: a new one, printed once)')
    .option('--severity <levels>', 'only these severities, e.g. warning,error')
    .option('--include <events>', 'only these event ids or names')
    .option('--exclude <events>', 'never these event ids or names')
    .action(async (url: string, o, cmd: Command) => {
      const secret = o.secret ?? generateWebhookSecret();
      const ep = await hubClient(cmd).call<Record<string, unknown>>('POST', '/v1/webhooks', { url, secret, name: o.name, format: o.format, filter: filterFrom(o) });
      // The hub never shows the secret again; it is printed here because this command made it.
      output(cmd, { ...ep, ...(o.secret ? {} : { secret }) }, () => `${kv(ep)}${o.secret ? '' : `\nsecret           ${secret}   (shown once: store it where the receiver verifies signatures)`}`);
    });
  hook.command('ls').action(async (_o, cmd: Command) => {
    const r = await hubClient(cmd).call<{ items: Array<Record<string, any>> }>('GET', '/v1/webhooks');
    output(cmd, r.items, () => table(['ID', 'NAME', 'FORMAT', 'ENABLED', 'URL'], r.items.map((e) => [e.id, e.name, e.format, e.enabled ? 'yes' : `no (${e.disabledReason})`, e.url])));
  });
  hook.command('show <id>').action(async (id: string, _o, cmd: Command) => {
    const e = await hubClient(cmd).call<Record<string, unknown>>('GET', `/v1/webhooks/${encodeURIComponent(id)}`);
    output(cmd, e, () => kv(e));
  });
  hook.command('set <id>').description('change an endpoint; --enable re-enables one disabled by 410 or failures')
    .option('--url <url>').option('--name <name>').option('--format <format>').option('--rotate-secret', 'make a new secret (printed once)')
    .option('--enable').option('--disable')
    .option('--severity <levels>').option('--include <events>').option('--exclude <events>')
    .action(async (id: string, o, cmd: Command) => {
      const secret = o.rotateSecret ? generateWebhookSecret() : undefined;
      const filter = o.severity || o.include || o.exclude ? filterFrom(o) : undefined;
      const body = { url: o.url, name: o.name, format: o.format, secret, filter, enabled: o.enable ? true : o.disable ? false : undefined };
      const e = await hubClient(cmd).call<Record<string, unknown>>('PATCH', `/v1/webhooks/${encodeURIComponent(id)}`, body);
      output(cmd, { ...e, ...(secret ? { secret } : {}) }, () => kv(e) + (secret ? `\nsecret           ${secret}   (shown once)` : ''));
    });
  hook.command('rm <id>').action(async (id: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('DELETE', `/v1/webhooks/${encodeURIComponent(id)}`), () => `removed ${id}`);
  });
  hook.command('test <id>').description('send a test event now and show the response').action(async (id: string, _o, cmd: Command) => {
    const r = await hubClient(cmd).call<{ ok: boolean; statusCode: number | null; error: string | null }>('POST', `/v1/webhooks/${encodeURIComponent(id)}/test`);
    output(cmd, r, () => (r.ok ? `delivered: HTTP ${r.statusCode}` : `failed: ${r.error ?? `HTTP ${r.statusCode}`} (will be retried)`));
    if (!r.ok) process.exitCode = 1;
  });
  hook.command('deliveries <id>').description('delivery log with every attempt').option('--limit <n>', 'rows', wholeNumber, 20)
    .action(async (id: string, o, cmd: Command) => {
      const r = await hubClient(cmd).call<{ items: Array<Record<string, any>> }>('GET', `/v1/webhooks/${encodeURIComponent(id)}/deliveries?limit=${Number(o.limit)}`);
      output(cmd, r.items, () => table(['DELIVERY', 'EVENT', 'STATUS', 'TRIES', 'CODES', 'NEXT'],
        r.items.map((d) => [d.id, d.event?.type, d.status, d.attempts, d.log.map((a: any) => a.statusCode ?? 'err').join(','), d.nextAttemptAt])));
    });
  hook.command('replay <deliveryId>').description('send a delivery again').action(async (id: string, _o, cmd: Command) => {
    const d = await hubClient(cmd).call<Record<string, unknown>>('POST', `/v1/webhooks/deliveries/${encodeURIComponent(id)}/replay`);
    output(cmd, d, () => `queued ${id} for delivery`);
  });
}
