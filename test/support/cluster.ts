// A hub and two agents (source "alpha", target "beta") as real processes on 127.0.0.1, for job tests.
import { startHubProcess, startAgentProcess, http, waitFor, type HubProc, type AgentProc } from './processes';

export interface Cluster {
  hub: HubProc;
  source: AgentProc;
  target: AgentProc;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  job(id: string): Promise<any>;
  waitJob(what: string, id: string, pred: (j: any) => boolean, timeoutMs?: number): Promise<any>;
  restartSource(signal?: NodeJS.Signals): Promise<void>;
  restartTarget(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again the hub or an agent a test left stopped (it failed before restarting it), so the next test does not inherit that. */
  ensureRunning(): Promise<void>;
  stop(): Promise<void>;
}

const exited = (p: AgentProc | HubProc) => p.child.exitCode !== null || p.child.signalCode !== null;

export async function startCluster(): Promise<Cluster> {
  const hub = await startHubProcess();
  const tok = await http('POST', `${hub.url}/v1/agent-tokens`, { name: 'cluster', maxUses: 10 }, hub.adminToken);
  const [source, target] = await Promise.all([
    startAgentProcess({ name: 'alpha', token: tok.body.token }),
    startAgentProcess({ name: 'beta', token: tok.body.token }),
  ]);
  const c: Cluster = {
    hub, source, target,
    api: (method, path, body) => http(method, `${hub.url}${path}`, body, hub.adminToken),
    job: async (id) => (await c.api('GET', `/v1/jobs/${id}`)).body,
    waitJob: async (what, id, pred, timeoutMs = 60_000) => {
      let last: any;
      try {
        return await waitFor(what, async () => {
          last = await c.job(id);
          return pred(last) && last;
        }, timeoutMs, 250);
      } catch (err) {
        const brief = last && { state: last.state, activity: last.activity, mirrorStatus: last.mirrorStatus, targetDataState: last.targetDataState, replicationStatus: last.replicationStatus, warnings: last.warnings, failover: last.failover };
        throw new Error(`${(err as Error).message}; job: ${JSON.stringify(brief).slice(0, 1500)}`);
      }
    },
    async restartSource(signal = 'SIGKILL') {
      await c.source.stop(signal);
      c.source = await startAgentProcess({ name: 'alpha', dataDir: c.source.dataDir, port: c.source.dataPort });
    },
    async restartTarget(signal = 'SIGKILL') {
      await c.target.stop(signal);
      c.target = await startAgentProcess({ name: 'beta', dataDir: c.target.dataDir, port: c.target.dataPort });
    },
    async ensureRunning() {
      if (exited(c.hub)) c.hub = await startHubProcess({ dataDir: c.hub.dataDir, port: c.hub.port });
      if (exited(c.source)) await c.restartSource();
      if (exited(c.target)) await c.restartTarget();
    },
    async stop() {
      await Promise.all([c.source.stop('SIGKILL'), c.target.stop('SIGKILL'), c.hub.stop('SIGKILL')]);
    },
  };
  return c;
}

/** A job body protecting `src` on alpha into `dst` on beta (custom mapping: both agents share this machine). */
export function filesJob(name: string, src: string, dst: string, extra: Record<string, unknown> = {}) {
  return {
    name, source: 'alpha', target: 'beta',
    rules: [{ path: src, type: 'include', recursive: true }],
    pathMapping: { mode: 'custom', entries: [{ source: src, target: dst }] },
    ...extra,
  };
}
