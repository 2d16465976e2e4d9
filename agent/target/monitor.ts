// The failover monitor on the target: probes the source (network reachability and the agent's service) every
// interval and keeps recent results for the hub, which decides. The monitor never fails anything over itself.
import net from 'node:net';
import { request } from 'undici';
import type { FailoverMonitor } from '../../shared/jobs/failover-settings';
import type { PeerInfo } from '../../shared/protocol/jobs';
import { pinnedDispatcher } from '../peer/client';
import { Periodic } from '../periodic';

export interface Probe {
  at: number;
  method: 'network' | 'service';
  target: string;
  ok: boolean;
}

/** Network probe: the host answers on TCP (a refused connection still proves the host is up). */
export function probeNetwork(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

/** Service probe: the source agent answers its health route on the data port (pinned certificate). */
export async function probeService(host: string, port: number, fingerprint: string, timeoutMs: number): Promise<boolean> {
  const dispatcher = pinnedDispatcher(fingerprint);
  try {
    const res = await request(`https://${host.includes(':') ? `[${host}]` : host}:${port}/v1/health`, {
      dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  } finally {
    void dispatcher.close().catch(() => {});
  }
}

export class SourceMonitor {
  private probes: Probe[] = [];
  private readonly loop = new Periodic(() => this.probeOnce(), () => Math.max(200, this.monitor.intervalSec * 1000));

  constructor(private monitor: FailoverMonitor, private peer: PeerInfo, private onProbe: () => void) {}

  update(monitor: FailoverMonitor, peer: PeerInfo): void {
    this.monitor = monitor;
    this.peer = peer;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  private async probeOnce(): Promise<void> {
    const m = this.monitor;
    const timeoutMs = Math.max(500, Math.min(5000, m.intervalSec * 1000 || 1000));
    const methods: Array<'network' | 'service'> = m.method === 'both' ? ['network', 'service'] : m.method === 'network' ? ['network'] : ['service'];
    const at = Date.now();
    const results = await Promise.all(m.addresses.flatMap((address) => methods.map(async (method) => ({
      at, method, target: address,
      ok: method === 'network' ? await probeNetwork(address, this.peer.port, timeoutMs) : await probeService(address, this.peer.port, this.peer.fingerprint, timeoutMs),
    }))));
    this.probes.push(...results);
    const keepMs = Math.max(m.failoverTimeSec * 2000, 120_000);
    const cutoff = Date.now() - keepMs;
    while (this.probes.length && (this.probes[0]!.at < cutoff || this.probes.length > 1500)) this.probes.shift();
    if (results.some((r) => !r.ok)) this.onProbe();
  }

  recent(): Probe[] {
    return [...this.probes];
  }
}
