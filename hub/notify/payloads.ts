// What each channel sends for an event: the Standard Webhooks JSON, Slack and Teams Workflows formats, e-mail text.
import type { EventView } from '../../shared/events/types';

export type WebhookFormat = 'standard' | 'slack' | 'teams';

/** Standard Webhooks envelope: `{type, timestamp, data}` with the full event as data (well under 20 KB). */
export function standardPayload(ev: EventView) {
  return { type: ev.type, timestamp: ev.lastAt, data: ev };
}

const SEVERITY_MARK: Record<string, string> = { info: 'ℹ️', warning: '⚠️', error: '🛑' };

function headline(ev: EventView): string {
  const repeated = ev.count > 1 ? ` (×${ev.count})` : '';
  return `[${ev.severity.toUpperCase()}] ${ev.message}${repeated}`;
}

function facts(ev: EventView): Array<{ title: string; value: string }> {
  const out = [{ title: 'Event', value: `${ev.type} (${ev.typeId})` }];
  if (ev.jobId) out.push({ title: 'Job', value: ev.jobId });
  if (ev.serverId) out.push({ title: 'Server', value: ev.serverId });
  out.push({ title: 'Time', value: ev.lastAt });
  if (ev.count > 1) out.push({ title: 'Occurrences', value: `${ev.count} since ${ev.firstAt}` });
  return out;
}

/** Slack incoming-webhook format: `text` for notifications plus a section block. */
export function slackPayload(ev: EventView) {
  return {
    text: `${SEVERITY_MARK[ev.severity] ?? ''} ${headline(ev)}`.trim(),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${SEVERITY_MARK[ev.severity] ?? ''} *${headline(ev)}*` } },
      { type: 'context', elements: facts(ev).map((f) => ({ type: 'mrkdwn', text: `*${f.title}:* ${f.value}` })) },
    ],
  };
}

/** Microsoft Teams Workflows ("Post to a channel when a webhook request is received"): an Adaptive Card message. */
export function teamsPayload(ev: EventView) {
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body: [
          { type: 'TextBlock', size: 'Medium', weight: 'Bolder', wrap: true, text: headline(ev),
            color: ev.severity === 'error' ? 'Attention' : ev.severity === 'warning' ? 'Warning' : 'Default' },
          { type: 'FactSet', facts: facts(ev) },
        ],
      },
    }],
  };
}

export function webhookBody(format: WebhookFormat, ev: EventView): string {
  const payload = format === 'slack' ? slackPayload(ev) : format === 'teams' ? teamsPayload(ev) : standardPayload(ev);
  return JSON.stringify(payload);
}

/** Subject: `<prefix> [<SEVERITY>] <message>`; body with the event text only when the org asked for it. */
export function emailContent(ev: EventView, opts: { subjectPrefix: string; includeText: boolean }): { subject: string; text: string } {
  const subject = `${opts.subjectPrefix ? opts.subjectPrefix + ' ' : ''}[${ev.severity.toUpperCase()}] ${ev.message}${ev.count > 1 ? ` (×${ev.count})` : ''}`;
  const oneLine = subject.replace(/[\r\n]+/g, ' ').slice(0, 250);
  const lines = [
    ...(opts.includeText ? [ev.message, ''] : []),
    ...facts(ev).map((f) => `${f.title}: ${f.value}`),
    ...(opts.includeText && Object.keys(ev.fields).length ? ['', 'Details:', ...Object.entries(ev.fields).map(([k, v]) => `  ${k}: ${v}`)] : []),
    '',
    `Dedup key: ${ev.dedupKey}`,
    `Event id: ${ev.id}`,
  ];
  return { subject: oneLine, text: lines.join('\n') + '\n' };
}
