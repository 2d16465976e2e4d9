// `tandem license …`: the inventory on the hub (issue, add, ls, rm, export, import, apply, activate, deactivate, reclaim,
// key) and this host's side (request, activate --key, install, status), which works without reaching the hub.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { JWK } from 'jose';
import { TandemError } from '../../shared/errors';
import { formatCode } from '../../shared/licensing';
import { HubClient } from '../hub-client';
import { loadIdentity } from '../state-store';
import {
  createActivationRequest, currentHost, enterActivationKey, forgetKey, installLicenceFile, installedLicences, loadHubJwks, saveHubJwks,
} from '../licence/local';
import { hubClient, output, table } from './context';
import { wholeNumber } from './args';

interface InventoryRow {
  serial: string; code: string; typeDescription: string; edition: string; state: string; server: { name: string } | null;
  hostname: string | null; health: string; message: string;
}

const agentDir = (o: { agentDir?: string }) => path.resolve(o.agentDir ?? process.env.TANDEM_AGENT_DATA_DIR ?? './tandem-agent');
async function readText(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The agent's own channel to the hub (identity.json), for host-side commands that can use the network if it is there. */
async function agentClient(dir: string): Promise<HubClient | null> {
  const id = await loadIdentity(dir);
  return id ? new HubClient(id.hubUrl, id.credential) : null;
}

export function registerLicenseCommands(program: Command): void {
  const lic = program.command('license').alias('licence').description('licence codes, activation and the inventory');

  // --- Vendor -----------------------------------------------------------------------------------------------------
  lic.command('issue').description('issue licence codes for an organization (vendor issuer token)')
    .requiredOption('--org <org>', 'organization id')
    .requiredOption('--type <type>', 'evaluation | single | site | job_seats')
    .option('--edition <edition>', 'foundation | standard | advanced | enterprise', 'standard')
    .option('--expires <date>', 'expiry date (YYYY-MM-DD); evaluation codes default to 30 days')
    .option('--quantity <n>', 'seats (job_seats) or server cap (site)', wholeNumber)
    .option('--no-activation', 'site codes: no activation needed')
    .option('--job-types <types>', 'job_seats: comma-separated job types that take a seat')
    .option('--count <n>', 'how many codes', wholeNumber, 1)
    .action(async (o, cmd: Command) => {
      const body: Record<string, unknown> = { orgId: o.org, type: o.type, edition: o.edition, count: Number(o.count) };
      if (o.expires) body.expiresAt = o.expires;
      if (o.quantity) body.quantity = Number(o.quantity);
      if (o.activation === false) body.requiresActivation = false;
      if (o.jobTypes) body.jobTypes = String(o.jobTypes).split(',').map((s) => s.trim());
      const res = await hubClient(cmd).call<{ items: Array<{ code: string; serial: string; type: string; edition: string; expiresAt: string | null }> }>('POST', '/v1/licences/issue', body);
      output(cmd, res.items, () => table(['CODE', 'SERIAL', 'TYPE', 'EDITION', 'EXPIRES'], res.items.map((i) => [i.code, i.serial, i.type, i.edition, i.expiresAt?.slice(0, 10)])));
    });

  // --- Inventory (hub) ----------------------------------------------------------------------------------------------
  lic.command('add <codes...>').description('add codes to the inventory (separate several with commas, spaces or new lines)')
    .action(async (codes: string[], _o, cmd: Command) => {
      const res = await hubClient(cmd).call<{ added: string[]; alreadyInInventory: string[]; needsActivation: string[] }>('POST', '/v1/licences', { codes: codes.join('\n') });
      output(cmd, res, () => [`added ${res.added.length} code(s)`, ...res.added.map((c) => `  ${c}`),
        ...(res.alreadyInInventory.length ? [`already in the inventory: ${res.alreadyInInventory.join(', ')}`] : []),
        ...(res.needsActivation.length ? [`needs activation within 14 days of being applied: ${res.needsActivation.join(', ')}`] : [])].join('\n'));
    });
  lic.command('ls').description('the inventory: one row per server per code, with warnings and errors').action(async (_o, cmd: Command) => {
    const res = await hubClient(cmd).call<{ items: InventoryRow[] }>('GET', '/v1/licences');
    const mark = (h: string) => (h === 'error' ? '✖' : h === 'warning' ? '!' : ' ');
    output(cmd, res.items, () => table(['', 'SERIAL', 'CODE', 'TYPE', 'EDITION', 'STATE', 'SERVER', 'STATUS'],
      res.items.map((r) => [mark(r.health), r.serial, r.code, r.typeDescription, r.edition, r.state, r.server?.name ?? r.hostname, r.message])));
  });
  lic.command('rm <code>').description('remove a code no server uses').action(async (code: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('DELETE', `/v1/licences/${encodeURIComponent(code)}`), () => `removed ${formatCode(code)}`);
  });
  lic.command('export').description('write the inventory to a file (stdout by default)').option('--out <file>', 'file to write')
    .action(async (o, cmd: Command) => {
      const file = await hubClient(cmd).call('GET', '/v1/licences/export');
      const text = JSON.stringify(file, null, 2) + '\n';
      if (o.out) {
        await writeFile(o.out, text, { mode: 0o600 });
        process.stdout.write(`wrote ${o.out}\n`);
      } else process.stdout.write(text);
    });
  lic.command('import <file>').description('add every code of an inventory file (or a plain list) to the inventory')
    .action(async (file: string, _o, cmd: Command) => {
      const res = await hubClient(cmd).call<{ added: string[]; needsActivation: string[] }>('POST', '/v1/licences/import', { file: await readText(file) });
      output(cmd, res, () => `imported ${res.added.length} code(s)${res.needsActivation.length ? `; to activate: ${res.needsActivation.join(', ')}` : ''}`);
    });
  lic.command('apply <code>').description('apply a code to a server (starts its 14-day activation window)').requiredOption('--server <server>')
    .action(async (code: string, o, cmd: Command) => {
      const res = await hubClient(cmd).call<{ state: string; activationDeadline: string | null }>('POST', `/v1/licences/${encodeURIComponent(code)}/apply`, { server: o.server });
      output(cmd, res, () => `applied to ${o.server}${res.activationDeadline ? `; activate before ${res.activationDeadline.slice(0, 10)}` : ''}`);
    });
  lic.command('deactivate <code>').description('deactivate a code (unlimited); it returns to the pool')
    .option('--server <server>', 'only on this server')
    .action(async (code: string, o, cmd: Command) => {
      const res = await hubClient(cmd).call<{ items: Array<{ code: string }> }>('POST', `/v1/licences/${encodeURIComponent(code)}/deactivate`, o.server ? { server: o.server } : {});
      output(cmd, res, () => `deactivated ${res.items.length} activation(s) of ${formatCode(code)}`);
    });
  lic.command('reclaim <code>').description('return an applied, never-activated single licence to the pool')
    .action(async (code: string, _o, cmd: Command) => {
      output(cmd, await hubClient(cmd).call('POST', `/v1/licences/${encodeURIComponent(code)}/reclaim`), () => `reclaimed ${formatCode(code)}`);
    });
  lic.command('key <code>').description('make an activation key for a host\'s request code (what the portal does)')
    .requiredOption('--request <requestCode>', 'the code `tandem license request` printed on the host')
    .option('--transfer', 'the licence is active on another host: transfer it (at most 2 per licence)')
    .action(async (code: string, o, cmd: Command) => {
      const res = await hubClient(cmd).call<{ activationKey: string; hostname: string }>('POST', '/v1/licences/activation-key', { code, requestCode: o.request, transfer: !!o.transfer });
      output(cmd, res, () => `activation key for ${res.hostname}:\n  ${res.activationKey}\non the host: tandem license activate --key ${res.activationKey}`);
    });

  // --- Activation: online via the hub, online from the host, or with a key from the portal -----------------------
  lic.command('activate [code]')
    .description('activate: `<code> --server S` (hub, online), `<code>` on the host (online, as this agent), or `--key K` (from the portal)')
    .option('--server <server>', 'activate for this enrolled server through the hub API')
    .option('--key <key>', 'an activation key made for this host\'s request code')
    .option('--transfer', 'the licence is active on another host: transfer it (at most 2 per licence)')
    .option('--agent-dir <dir>', 'agent data directory (env TANDEM_AGENT_DATA_DIR, default ./tandem-agent)')
    .action(async (code: string | undefined, o, cmd: Command) => {
      if (o.key) {
        const dir = agentDir(o);
        const entry = await enterActivationKey(dir, await currentHost(), o.key);
        const client = await agentClient(dir);
        if (client) {
          try {
            const res = await client.call<{ licenceFile: string }>('POST', '/v1/agent/licence/claim', { key: entry.key, requestCode: entry.requestCode });
            const claims = await installFile(dir, client, res.licenceFile);
            await forgetKey(dir, entry.key);
            output(cmd, claims, () => `activated: licence ${claims.sub} (${claims.type}, ${claims.edition}) installed; valid until ${new Date(claims.exp * 1000).toISOString().slice(0, 10)}, refreshed online`);
            return;
          } catch (err) {
            if ((err as TandemError).code !== 'hub_unreachable') throw err;
          }
        }
        output(cmd, entry, () => `activation key accepted for licence ${entry.serial}; the agent fetches the signed licence file when it next reaches the hub`);
        return;
      }
      if (!code) throw new TandemError('licence_code_required', 'Give a licence code (or --key for an activation key from the portal).');
      if (o.server) {
        const res = await hubClient(cmd).call<{ hostname: string; transferred: boolean; hostTransfersUsed: number }>('POST', `/v1/licences/${encodeURIComponent(code)}/activate`, { server: o.server, transfer: !!o.transfer });
        output(cmd, res, () => `activated ${formatCode(code)} on ${o.server}${res.transferred ? ` (host transfer ${res.hostTransfersUsed} of 2)` : ''}; the agent receives its licence file on its next poll`);
        return;
      }
      const dir = agentDir(o);
      const client = await agentClient(dir);
      if (!client) throw new TandemError('not_enrolled', `No enrolled agent in ${dir}; pass --server to activate through the hub, or --agent-dir.`);
      const res = await client.call<{ licenceFile: string }>('POST', '/v1/agent/licence/activate', { code, transfer: !!o.transfer });
      const claims = await installFile(dir, client, res.licenceFile);
      output(cmd, claims, () => `activated ${formatCode(code)} on this host; licence file valid until ${new Date(claims.exp * 1000).toISOString().slice(0, 10)}`);
    });

  // --- Host side, offline ---------------------------------------------------------------------------------------
  lic.command('request').description('show this host\'s activation request code (and write a request file for offline activation)')
    .option('--file <file>', 'also write an activation request file to upload in the portal')
    .option('--code <code>', 'the licence code to activate (put in the request file)')
    .option('--agent-dir <dir>', 'agent data directory')
    .action(async (o, cmd: Command) => {
      const dir = agentDir(o);
      const id = await loadIdentity(dir);
      const host = await currentHost();
      const req = await createActivationRequest(dir, host, { serverId: id?.serverId, codes: o.code ? [o.code] : [] });
      if (o.file) await writeFile(o.file, JSON.stringify(req.file, null, 2) + '\n', { mode: 0o644 });
      output(cmd, { ...req, host: host.fingerprint, hostname: host.hostname }, () => [
        `Activation request code for ${host.hostname}:`, `  ${req.requestCode}`,
        'Enter it with your licence code in the activation portal (<hub>/portal/activate), then run:',
        '  tandem license activate --key <activation key>',
        ...(o.file ? [`Request file written to ${o.file}: upload it in the portal and install the licence file you get back with \`tandem license install\`.`] : []),
      ].join('\n'));
    });
  lic.command('install <file>').description('install a signed licence file (verified offline with the hub\'s public key)')
    .option('--hub-keys <jwks>', 'the hub\'s public keys (<hub>/.well-known/jwks.json) if this host never reached the hub')
    .option('--agent-dir <dir>', 'agent data directory')
    .action(async (file: string, o, cmd: Command) => {
      const dir = agentDir(o);
      let jwks: JWK[] | undefined;
      if (o.hubKeys) {
        const parsed = JSON.parse(await readFile(o.hubKeys, 'utf8'));
        jwks = Array.isArray(parsed) ? parsed : parsed.keys;
        await saveHubJwks(dir, jwks!);
      }
      const claims = await installLicenceFile(dir, await currentHost(), await readText(file), Date.now(), jwks);
      output(cmd, claims, () => `installed licence ${claims.sub} (${claims.type}, ${claims.edition}) for ${claims.hostname ?? 'any host'}; valid until ${new Date(claims.exp * 1000).toISOString().slice(0, 10)}`);
    });
  lic.command('status').description('this host\'s licence files, verified now, offline').option('--agent-dir <dir>', 'agent data directory')
    .action(async (o, cmd: Command) => {
      const dir = agentDir(o);
      const host = await currentHost();
      const items = await installedLicences(dir, host);
      const keys = (await loadHubJwks(dir)).length;
      output(cmd, { host: host.fingerprint, hostname: host.hostname, hubKeys: keys, licences: items.map(({ file: _f, ...i }) => i) }, () => [
        `host ${host.hostname} (${host.fingerprint})${keys ? '' : ' — hub public key not known yet'}`,
        items.length ? table(['SERIAL', 'STATUS', 'TYPE', 'EDITION', 'VALID UNTIL', 'DETAIL'], items.map((i) => [i.serial, i.status, i.claims?.type, i.claims?.edition, i.claims ? new Date(i.claims.exp * 1000).toISOString().slice(0, 10) : null, i.message]))
          : 'no licence installed: new protection will not start on this host (failover, restore and failback still work)',
      ].join('\n'));
    });
}

async function installFile(dir: string, client: HubClient, text: string) {
  if (!(await loadHubJwks(dir)).length) {
    const res = await client.call<{ keys: JWK[] }>('GET', '/.well-known/jwks.json');
    await saveHubJwks(dir, res.keys);
  }
  return installLicenceFile(dir, await currentHost(), text);
}
