// `tandem events [--since 1h] [--severity warning] [--job id] [--server id] [--type name] [--follow]`.
import type { Command } from 'commander';
import type { EventView } from '../../shared/events/types';
import { globals, hubClient, output, table } from './context';
import { wholeNumber } from './args';

function query(o: { since?: string; severity?: string; job?: string; server?: string; type?: string; limit?: string }, since?: string): string {
  const q = new URLSearchParams();
  if (since ?? o.since) q.set('since', (since ?? o.since)!);
  if (o.severity) q.set('severity', o.severity);
  if (o.job) q.set('job', o.job);
  if (o.server) q.set('server', o.server);
  if (o.type) q.set('type', o.type);
  if (o.limit) q.set('limit', o.limit);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const row = (e: EventView) => [e.lastAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.severity.toUpperCase(), e.typeId, e.jobId ?? e.serverId ?? '-', `${e.message}${e.count > 1 ? ` (×${e.count})` : ''}`];

export function registerEventCommands(program: Command): void {
  program.command('events')
    .description('list events (newest page, oldest first); --follow keeps printing new ones')
    .option('--since <when>', 'ISO time or a span back from now: 15m, 2h, 7d')
    .option('--severity <level>', 'info, warning or error (that level and worse)')
    .option('--job <id>', 'only this job')
    .option('--server <id>', 'only this server')
    .option('--type <names>', 'comma-separated event names, e.g. job.failover_condition_met')
    .option('--limit <n>', 'at most this many (default 200)', wholeNumber)
    .option('--follow', 'keep polling for new events (Ctrl-C to stop)')
    .action(async (o, cmd: Command) => {
      const client = hubClient(cmd);
      const first = await client.call<{ items: EventView[]; hubTime: string }>('GET', `/v1/events${query(o)}`);
      if (!o.follow) {
        output(cmd, first.items, () => first.items.length ? table(['TIME', 'SEVERITY', 'ID', 'JOB/SERVER', 'MESSAGE'], first.items.map(row)) : 'no events');
        return;
      }
      // Follow: poll from the hub's clock; print an event again only when its count grew.
      const seen = new Map<string, number>();
      const print = (e: EventView) => {
        if (seen.get(e.id) === e.count) return;
        seen.set(e.id, e.count);
        process.stdout.write((globals(cmd).json ? JSON.stringify(e) : row(e).join('  ')) + '\n');
      };
      first.items.forEach(print);
      let since = first.hubTime;
      for (;;) {
        await new Promise((r) => setTimeout(r, 2000));
        const next = await client.call<{ items: EventView[]; hubTime: string }>('GET', `/v1/events${query(o, since)}`);
        next.items.forEach(print);
        // Overlap by the poll interval so events stored just before hubTime are not missed; `seen` drops repeats.
        since = new Date(Date.parse(next.hubTime) - 5000).toISOString();
      }
    });
}
