// The `tandem` command: runs the hub or an agent, and talks to the hub API for operators.
import { Command } from 'commander';
import { TandemError } from '../shared/errors';
import { TANDEM_VERSION } from '../shared/version';
import { loadAgentConfig, printableConfig } from './config';
import { registerServerCommands } from './cli/servers';
import { registerLicenseCommands } from './cli/license';
import { registerTokenCommands } from './cli/tokens';
import { registerJobCommands } from './cli/jobs';
import { registerEventCommands } from './cli/events';
import { registerNotifyCommands } from './cli/notify';

const program = new Command('tandem')
  .version(TANDEM_VERSION)
  .description('Tandem: real-time replication and failover for Linux servers')
  .option('--hub <url>', 'hub URL (env TANDEM_HUB, default http://127.0.0.1:6320)')
  .option('--api-token <token>', 'operator API token (env TANDEM_API_TOKEN, default <data-dir>/admin.token)')
  .option('--json', 'machine-readable output')
  .showHelpAfterError();

program.command('hub')
  .description('run the hub (HTTP API, embedded database)')
  .option('--port <port>', 'listen port', '6320')
  .option('--host <addr>', 'listen address', '0.0.0.0')
  .option('--data-dir <dir>', 'hub data directory (database, admin.token)', './tandem-data')
  .option('--db <url>', 'libsql://… or http(s)://… remote libSQL instead of the embedded file')
  .option('--db-auth-token <token>', 'auth token for a remote libSQL database (env TANDEM_DB_AUTH_TOKEN)')
  .option('--public-url <url>', 'URL agents use to reach this hub (put in config tokens)')
  .option('--log-level <level>', 'pino log level', 'info')
  .action(async (o) => {
    const { startHub } = await import('../hub/node');
    const hub = await startHub({
      port: Number(o.port), host: o.host, dataDir: o.dataDir, db: o.db ?? process.env.TANDEM_DB,
      dbAuthToken: o.dbAuthToken ?? process.env.TANDEM_DB_AUTH_TOKEN, publicUrl: o.publicUrl,
      logLevel: o.logLevel, banner: true,
    });
    const shutdown = () => void hub.close().then(() => process.exit(0));
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });

program.command('agent')
  .description('run the agent on a protected host')
  .option('--token <token>', 'agent config token (env TANDEM_TOKEN); needed on first start only')
  .option('--data-dir <dir>', 'agent data directory (env TANDEM_AGENT_DATA_DIR)')
  .option('--name <name>', 'server name shown on the hub (default: hostname)')
  .option('--port <port>', 'HTTPS data port for peers (default 6325)')
  .option('--listen <addr>', 'data port listen address (default 0.0.0.0)')
  .option('--advertise <addrs>', 'comma-separated addresses peers use to reach this agent')
  .option('--poll-wait <sec>', 'long-poll wait in seconds (default 20)')
  .option('--nice <n>', 'CPU niceness 0..19 (env TANDEM_AGENT_NICE; default 10: below the protected application)')
  .option('--log-level <level>', 'pino log level')
  .option('--print-config', 'print the effective configuration (secrets masked) and exit')
  .action(async (o) => {
    const cfg = loadAgentConfig(o);
    if (o.printConfig) {
      process.stdout.write(JSON.stringify(printableConfig(cfg), null, 2) + '\n');
      return;
    }
    const { runAgent } = await import('./daemon');
    const agent = await runAgent(cfg);
    process.stdout.write(`Tandem agent "${cfg.name}" running as ${agent.identity.serverId}; data port ${agent.dataPort}; hub ${agent.identity.hubUrl}\n`);
    const shutdown = () => void agent.stop().then(() => process.exit(0));
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });

registerTokenCommands(program);
registerServerCommands(program);
registerLicenseCommands(program);
registerJobCommands(program);
registerEventCommands(program);
registerNotifyCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as Partial<TandemError>;
  process.stderr.write(`tandem: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
  process.exit(1);
}
