// The agent process: TLS identity, data port, enrolment on first start, then the poll loop. Runs without the hub.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { readdirSync } from 'node:fs';
import { decodeJwt } from 'jose';
import type { EnrolResponse, HostFacts } from '../shared/protocol/control';
import { TandemError } from '../shared/errors';
import { backoffDelay } from '../shared/backoff';
import { TANDEM_VERSION } from '../shared/version';
import type { AgentConfig } from './config';
import { DataServer, sendJson } from './data-server';
import { HubClient } from './hub-client';
import { filesystemTypes, filesystemUsage, hostAddresses, osDescription, readMachineId } from './identity';
import type { FilesystemUsage } from '../shared/protocol/control';
import { createAgentLogger, type AgentLogger } from './log';
import { PollLoop, type CommandHandler } from './poll-loop';
import { loadIdentity, saveIdentity, type AgentIdentity } from './state-store';
import { loadOrCreateTlsIdentity } from './tls';
import { JobManager } from './jobs/job-manager';
import { LicenceManager } from './licence/manager';

export interface RunningAgent {
  identity: AgentIdentity;
  dataPort: number;
  poll: PollLoop;
  data: DataServer;
  log: AgentLogger;
  jobs: JobManager;
  stop(): Promise<void>;
}

async function enrol(cfg: AgentConfig, facts: HostFacts, log: AgentLogger): Promise<AgentIdentity> {
  if (!cfg.token) {
    throw new TandemError('not_enrolled', 'This agent has not enrolled yet: start it with --token <config token> (create one on the hub with `tandem token create`).');
  }
  let hubUrl: string;
  try {
    hubUrl = String(decodeJwt(cfg.token).hub);
    new URL(hubUrl);
  } catch {
    throw new TandemError('token_malformed', 'The config token is not valid: copy the whole token printed by `tandem token create`.');
  }
  const client = new HubClient(hubUrl);
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await client.call<EnrolResponse>('POST', '/v1/agent/enrol', { configToken: cfg.token, host: facts });
      const identity = { hubUrl, serverId: res.serverId, orgId: res.orgId, credential: res.credential, enrolledAt: new Date().toISOString() };
      await saveIdentity(cfg.dataDir, identity);
      log.info({ serverId: res.serverId, hub: hubUrl }, 'enrolled with hub');
      return identity;
    } catch (err) {
      if (err instanceof TandemError && err.code === 'hub_unreachable') {
        log.warn({ hub: hubUrl }, 'hub unreachable for enrolment; retrying');
        await new Promise((r) => setTimeout(r, backoffDelay(attempt)));
        continue;
      }
      throw err;
    }
  }
}

/**
 * Lowers the agent's CPU priority. Linux keeps a nice value per thread, so every thread that exists now is
 * reniced (threads started later inherit it from the thread that starts them).
 */
function lowerPriority(nice: number, log: AgentLogger): void {
  if (nice <= 0) return;
  let tids: string[] = [String(process.pid)];
  try {
    tids = readdirSync('/proc/self/task');
  } catch { /* not Linux: the main thread only */ }
  for (const tid of tids) {
    try {
      if (os.getPriority(Number(tid)) < nice) os.setPriority(Number(tid), nice);
    } catch (err) {
      log.warn({ err: (err as Error).message, nice }, 'could not lower the agent\'s CPU priority');
      return;
    }
  }
}

export async function runAgent(cfg: AgentConfig, extraHandlers: Record<string, CommandHandler> = {}): Promise<RunningAgent> {
  await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  const log = createAgentLogger(cfg.logLevel, { agent: cfg.name });
  lowerPriority(cfg.nice, log);
  const tls = await loadOrCreateTlsIdentity(cfg.dataDir, cfg.name);
  const data = new DataServer(tls, log);
  const dataPort = await data.listen(cfg.port, cfg.listen);
  const addresses = cfg.advertise ?? (hostAddresses().length ? hostAddresses() : ['127.0.0.1']);

  let identity = await loadIdentity(cfg.dataDir);
  if (!identity) {
    const facts: HostFacts = {
      name: cfg.name, hostname: os.hostname(), machineId: await readMachineId(), os: osDescription(),
      agentVersion: TANDEM_VERSION, addresses, dataPort, certFingerprint: tls.fingerprint,
      filesystems: await filesystemTypes([cfg.dataDir]),
    };
    try {
      identity = await enrol(cfg, facts, log);
    } catch (err) {
      await data.close();
      throw err;
    }
  }
  const id = identity;
  data.route('GET', '/v1/health', async (_req, res) => {
    sendJson(res, 200, { ok: true, version: TANDEM_VERSION, serverId: id.serverId, name: cfg.name });
  });

  // Licence files: pushed by the hub after activation, refreshed online, verified offline (agent/licence).
  const licence = new LicenceManager({ dataDir: cfg.dataDir, client: new HubClient(id.hubUrl, id.credential), log });
  await licence.start();
  const handlers = new Map<string, CommandHandler>(Object.entries({
    noop: async (payload: unknown) => ({ pong: true, at: new Date().toISOString(), echo: payload ?? null }),
    ...licence.handlers(),
    ...extraHandlers,
  }));
  // Job status changes are pushed to the hub promptly by cutting the long poll short: the first change at once,
  // then at most every 500 ms while changes keep coming; an urgent change (a mirror finished) goes at once.
  let nudgeTimer: NodeJS.Timeout | null = null;
  let lastNudgeAt = 0;
  const onJobChange = (urgent = false) => {
    if (urgent && nudgeTimer) { clearTimeout(nudgeTimer); nudgeTimer = null; }
    nudgeTimer ??= setTimeout(() => {
      nudgeTimer = null;
      lastNudgeAt = Date.now();
      poll?.nudge();
    }, urgent ? 0 : Math.max(0, lastNudgeAt + 500 - Date.now()));
  };
  let poll: PollLoop | undefined;
  const jobs = new JobManager({ dataDir: cfg.dataDir, serverId: id.serverId, log, data, onChange: onJobChange, hubContactAt: () => (poll?.lastContactAt || null) });
  for (const [kind, handler] of Object.entries(jobs.commandHandlers())) handlers.set(kind, handler);
  // Jobs restore in the background (see JobManager.start): the first poll does not wait for them.
  await jobs.start();
  let filesystems: FilesystemUsage[] = await filesystemUsage();
  const fsTimer = setInterval(() => void filesystemUsage().then((f) => { filesystems = f; }), 60_000);
  fsTimer.unref();
  poll = new PollLoop({
    client: new HubClient(id.hubUrl, id.credential),
    dataDir: cfg.dataDir,
    pollWaitSec: cfg.pollWaitSec,
    log,
    handlers,
    // The file systems' free space lets the hub warn, when a job is created or edited, that its target is nearly full.
    collect: () => ({ state: { name: cfg.name, uptimeSec: Math.round(process.uptime()), licence: licence.report(), filesystems }, jobs: jobs.reports(), addresses, dataPort }),
    onResponse: (res) => jobs.apply(res.desired as { jobs?: unknown; hubKeys?: unknown }, res.settings),
    // New jobs report "starting" from now, though the goal may wait behind another job's start.
    onReceived: (res) => jobs.noteGoal((res.desired as { jobs?: unknown } | undefined)?.jobs),
  });
  await poll.start();
  log.info({ serverId: id.serverId, dataPort }, 'agent running');
  return {
    identity: id, dataPort, poll, data, log, jobs,
    async stop() {
      if (nudgeTimer) clearTimeout(nudgeTimer);
      clearInterval(fsTimer);
      licence.stop();
      await poll.stop();
      await jobs.stop();
      await data.close();
    },
  };
}
