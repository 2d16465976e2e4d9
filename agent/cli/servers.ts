// `tandem server ls|show|rm|ping` and `tandem status`.
import type { Command } from 'commander';
import type { ServerView } from '../../shared/protocol/control';
import { hubClient, output, table, ago } from './context';
import { wholeNumber } from './args';

interface CommandView { id: string; status: string; result: unknown }

export function registerServerCommands(program: Command): void {
  const server = program.command('server').description('servers (enrolled agents)');
  server.command('ls').action(async (_o, cmd: Command) => {
    const res = await hubClient(cmd).call<{ items: ServerView[] }>('GET', '/v1/servers');
    output(cmd, res.items, () => table(['ID', 'NAME', 'STATUS', 'VERSION', 'ADDRESSES', 'LAST SEEN', 'SKEW'],
      res.items.map((s) => [s.id, s.name, s.status, s.version, s.addresses.join(','), ago(s.lastSeenAt), s.clockSkewMs == null ? null : `${s.clockSkewMs}ms`])));
  });
  server.command('show <server>').action(async (id: string, _o, cmd: Command) => {
    const s = await hubClient(cmd).call<ServerView>('GET', `/v1/servers/${encodeURIComponent(id)}`);
    output(cmd, s, () => Object.entries(s).map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n'));
  });
  server.command('rm <server>').description('remove a server (refused while a job uses it)')
    .option('--deactivate', 'also deactivate its licences (managed uninstall), freeing them for another host')
    .action(async (id: string, o, cmd: Command) => {
      const q = o.deactivate ? '?deactivate=true' : '';
      output(cmd, await hubClient(cmd).call('DELETE', `/v1/servers/${encodeURIComponent(id)}${q}`), () => `removed ${id}${o.deactivate ? ' (licences deactivated)' : ''}`);
    });
  server.command('target-pause <server>').description('stop applying on this target; it keeps receiving into its queue')
    .action(async (id: string, _o, cmd: Command) => {
      output(cmd, await hubClient(cmd).call('POST', `/v1/servers/${encodeURIComponent(id)}/target-pause`, {}), () => `target ${id} paused`);
    });
  server.command('target-resume <server>').action(async (id: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('POST', `/v1/servers/${encodeURIComponent(id)}/target-resume`, {}), () => `target ${id} resumed`);
  });
  server.command('ping <server>').description('send a no-op command through the poll channel and wait for its result')
    .option('--timeout <sec>', 'seconds to wait', wholeNumber, 30)
    .action(async (id: string, o, cmd: Command) => {
      const client = hubClient(cmd);
      const queued = await client.call<CommandView>('POST', `/v1/servers/${encodeURIComponent(id)}/commands`, { kind: 'noop' });
      const deadline = Date.now() + Number(o.timeout) * 1000;
      let c = queued;
      while ((c.status === 'pending' || c.status === 'delivered') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        c = await client.call<CommandView>('GET', `/v1/commands/${queued.id}`);
      }
      output(cmd, c, () => `${c.id} ${c.status} ${JSON.stringify(c.result)}`);
      if (c.status !== 'succeeded') process.exitCode = 1;
    });

  program.command('status').description('hub health and a summary of servers').action(async (_o, cmd: Command) => {
    const client = hubClient(cmd);
    const health = await client.call<{ version: string }>('GET', '/v1/health');
    const res = await client.call<{ items: ServerView[] }>('GET', '/v1/servers');
    const online = res.items.filter((s) => s.status === 'online').length;
    output(cmd, { hub: { url: client.baseUrl, version: health.version }, servers: { total: res.items.length, online } },
      () => `hub ${client.baseUrl} (version ${health.version})\nservers: ${online} online, ${res.items.length - online} offline`);
  });
}
