// The agent daemon's licence keeper: fetches the hub's public keys, installs files the hub pushes, exchanges entered
// activation keys, refreshes files online well before they lapse, and reports the host's licence state in polls.
import type { JWK } from 'jose';
import { DAY_MS, LICENCE_FILE_REFRESH_FRACTION, LICENCE_FILE_TTL_DAYS, type AgentLicenceReport } from '../../shared/licensing';
import type { HubClient } from '../hub-client';
import type { AgentLogger } from '../log';
import type { CommandHandler } from '../poll-loop';
import {
  currentHost, enteredKeys, forgetKey, installLicenceFile, installedLicences, removeLicenceFile, reportFor, saveHubJwks,
  type HostIdentity, type InstalledLicence,
} from './local';

export interface LicenceManagerOptions {
  dataDir: string;
  client: HubClient;
  log: AgentLogger;
  /** How often to look for work (refresh due, keys to claim). */
  checkEveryMs?: number;
  now?: () => number;
}

export class LicenceManager {
  private host!: HostIdentity;
  private installed: InstalledLicence[] = [];
  private timer?: NodeJS.Timeout;
  private lastRefreshAt = 0;
  private readonly now: () => number;

  constructor(private opts: LicenceManagerOptions) {
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.host = await currentHost();
    await this.reload();
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.opts.checkEveryMs ?? 3600_000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** For the poll's `state.licence`: the host identity and the verified files (refreshed on every reload). */
  report(): AgentLicenceReport | undefined {
    return this.host ? reportFor(this.host, this.installed) : undefined;
  }

  async reload(): Promise<void> {
    this.installed = await installedLicences(this.opts.dataDir, this.host, this.now());
  }

  /** Whether any file is missing or has less than a third of its life left. */
  private refreshDue(): boolean {
    if (!this.installed.some((l) => l.status === 'valid')) return true;
    const margin = LICENCE_FILE_TTL_DAYS * DAY_MS * LICENCE_FILE_REFRESH_FRACTION;
    return this.installed.some((l) => l.claims && l.claims.exp * 1000 - this.now() < margin);
  }

  async tick(): Promise<void> {
    try {
      await this.reload();
      for (const k of await enteredKeys(this.opts.dataDir)) await this.claim(k.key, k.requestCode);
      // Hourly refresh while something is due; otherwise once a day is plenty.
      if (this.refreshDue() || this.now() - this.lastRefreshAt > DAY_MS) await this.refresh();
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'licence check failed; will retry');
    }
  }

  async refresh(): Promise<void> {
    const res = await this.opts.client.call<{ files: Array<{ serial: string; licenceFile: string }>; jwks: JWK[] }>('POST', '/v1/agent/licence/refresh', {});
    await saveHubJwks(this.opts.dataDir, res.jwks);
    for (const f of res.files) await this.install(f.licenceFile);
    this.lastRefreshAt = this.now();
    await this.reload();
  }

  private async claim(key: string, requestCode: string): Promise<void> {
    try {
      const res = await this.opts.client.call<{ licenceFile: string }>('POST', '/v1/agent/licence/claim', { key, requestCode });
      await this.install(res.licenceFile);
      await forgetKey(this.opts.dataDir, key);
      this.opts.log.info({}, 'activation key exchanged for a licence file');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'hub_unreachable') return; // keep the key; try again next time
      this.opts.log.error({ code, err: (err as Error).message }, 'the hub refused an entered activation key');
      await forgetKey(this.opts.dataDir, key);
    }
  }

  private async install(text: string) {
    const claims = await installLicenceFile(this.opts.dataDir, this.host, text, this.now());
    this.opts.log.info({ serial: claims.sub, exp: new Date(claims.exp * 1000).toISOString() }, 'licence file installed');
    await this.reload();
    return claims;
  }

  /** Command handlers the hub uses to push a licence file (after activation) or withdraw one (deactivation, transfer). */
  handlers(): Record<string, CommandHandler> {
    return {
      'licence.install': async (payload) => {
        const file = (payload as { file?: unknown })?.file;
        if (typeof file !== 'string') throw new Error('licence.install needs {file}');
        // The keys may have rotated since we last fetched them: refresh once if verification fails.
        try {
          const c = await this.install(file);
          return { serial: c.sub, exp: c.exp };
        } catch {
          const res = await this.opts.client.call<{ keys: JWK[] }>('GET', '/.well-known/jwks.json');
          await saveHubJwks(this.opts.dataDir, res.keys);
          const c = await this.install(file);
          return { serial: c.sub, exp: c.exp };
        }
      },
      'licence.remove': async (payload) => {
        const serial = String((payload as { serial?: unknown })?.serial ?? '');
        const removed = await removeLicenceFile(this.opts.dataDir, serial);
        await this.reload();
        return { serial, removed };
      },
    };
  }
}
