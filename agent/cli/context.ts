// What every operator command needs: a hub client (URL and token from flags, env or the local data dir) and output helpers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { TandemError } from '../../shared/errors';
import { HubClient } from '../hub-client';

export interface GlobalOptions {
  hub?: string;
  apiToken?: string;
  dataDir?: string;
  json?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function resolveApiToken(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.apiToken) return opts.apiToken;
  if (env.TANDEM_API_TOKEN) return env.TANDEM_API_TOKEN;
  const file = path.join(path.resolve(opts.dataDir ?? env.TANDEM_DATA_DIR ?? './tandem-data'), 'admin.token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new TandemError('no_api_token', `No API token: pass --api-token, set TANDEM_API_TOKEN, or run from the directory holding tandem-data/admin.token (looked at ${file}).`);
  }
}

export function hubClient(cmd: Command): HubClient {
  const opts = globals(cmd);
  const url = opts.hub ?? process.env.TANDEM_HUB ?? 'http://127.0.0.1:6320';
  return new HubClient(url, resolveApiToken(opts));
}

/** Prints JSON with --json, otherwise the human rendering. */
export function output(cmd: Command, data: unknown, human: () => string): void {
  process.stdout.write((globals(cmd).json ? JSON.stringify(data, null, 2) : human()) + '\n');
}

/** A plain aligned table: one row per item. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((v) => (v == null ? '-' : String(v))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}
