// `tandem token …` (agent config tokens) and `tandem api-token …` (operator API tokens).
import type { Command } from 'commander';
import { hubClient, output, table } from './context';
import { wholeNumber } from './args';

interface AgentTokenView { id: string; name: string | null; expiresAt: string; uses: number; remainingUses: number | null; revoked: boolean; token?: string }
interface ApiTokenView { id: string; name: string; role: string; createdAt: string; lastUsedAt: string | null; token?: string }

export function parseDuration(s: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not a duration; use e.g. 30m, 12h, 7d`);
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('agent config tokens (paste one on a new host to enrol its agent)');
  token.command('create')
    .option('--name <name>', 'label for the token')
    .option('--expires <duration>', 'lifetime, e.g. 1h, 7d', '7d')
    .option('--max-uses <n>', 'how many agents may enrol with it', wholeNumber)
    .action(async (o, cmd: Command) => {
      const res = await hubClient(cmd).call<AgentTokenView>('POST', '/v1/agent-tokens', {
        name: o.name, expiresInSec: parseDuration(o.expires), ...(o.maxUses ? { maxUses: Number(o.maxUses) } : {}),
      });
      output(cmd, res, () => `${res.token}\n\n# config token ${res.id}, expires ${res.expiresAt}. On the new host run:\n#   tandem agent --token <the token above>`);
    });
  token.command('ls').action(async (_o, cmd: Command) => {
    const res = await hubClient(cmd).call<{ items: AgentTokenView[] }>('GET', '/v1/agent-tokens');
    output(cmd, res.items, () => table(['ID', 'NAME', 'EXPIRES', 'USES', 'LEFT', 'REVOKED'],
      res.items.map((t) => [t.id, t.name, t.expiresAt, t.uses, t.remainingUses ?? 'unlimited', t.revoked ? 'yes' : 'no'])));
  });
  token.command('revoke <id>').action(async (id: string, _o, cmd: Command) => {
    const res = await hubClient(cmd).call('DELETE', `/v1/agent-tokens/${encodeURIComponent(id)}`);
    output(cmd, res, () => `revoked ${id}`);
  });

  const api = program.command('api-token').description('operator API tokens (admin or read-only monitor)');
  api.command('create')
    .requiredOption('--name <name>')
    .option('--role <role>', 'admin | monitor', 'monitor')
    .action(async (o, cmd: Command) => {
      const res = await hubClient(cmd).call<ApiTokenView>('POST', '/v1/api-tokens', { name: o.name, role: o.role });
      output(cmd, res, () => `${res.token}\n\n# ${res.role} token ${res.id}: shown once, store it now`);
    });
  api.command('ls').action(async (_o, cmd: Command) => {
    const res = await hubClient(cmd).call<{ items: ApiTokenView[] }>('GET', '/v1/api-tokens');
    output(cmd, res.items, () => table(['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED'],
      res.items.map((t) => [t.id, t.name, t.role, t.createdAt, t.lastUsedAt])));
  });
  api.command('rm <id>').action(async (id: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('DELETE', `/v1/api-tokens/${encodeURIComponent(id)}`), () => `deleted ${id}`);
  });
}
