// The agent's command channel: long-polls the hub, reports state, runs each command once, backs off while the hub is away.
import path from 'node:path';
import { z } from 'zod';
import type { AgentCommand, CommandResult, PollResponse } from '../shared/protocol/control';
import { backoffDelay } from '../shared/backoff';
import { TandemError } from '../shared/errors';
import { TANDEM_VERSION } from '../shared/version';
import type { HubClient } from './hub-client';
import type { AgentLogger } from './log';
import { readJson, writeFileAtomic } from './state-store';

export type CommandHandler = (payload: unknown, cmd: AgentCommand) => Promise<unknown>;

export interface PollLoopOptions {
  client: HubClient;
  dataDir: string;
  pollWaitSec: number;
  log: AgentLogger;
  handlers: Map<string, CommandHandler>;
  /** State reported on every poll (agent state and per-job status). */
  collect: () => { state: Record<string, unknown>; jobs: Record<string, unknown>[]; addresses?: string[]; dataPort?: number };
  onResponse?: (res: PollResponse) => void | Promise<void>;
}

const AppliedLog = z.array(z.object({ id: z.string(), result: z.any() }));
const APPLIED_KEEP = 500;

export class PollLoop {
  private running = false;
  private abort = new AbortController();
  private applied = new Map<string, CommandResult>();
  private loopDone: Promise<void> = Promise.resolve();
  connected = false;
  lastContactAt = 0;
  /**
   * The goal version last applied: the hub answers at once while it has another one (so a cut-short answer is not
   * lost). Sent only once the hub has named one: a hub older than this agent refuses fields it does not know.
   */
  private desiredVersion: string | undefined;
  /** Whether any poll was answered yet: the first one does not wait, so a fresh agent learns its goal (and version) at once. */
  private answered = false;

  constructor(private opts: PollLoopOptions) {}

  private get appliedFile() {
    return path.join(this.opts.dataDir, 'commands-applied.json');
  }

  async start(): Promise<void> {
    for (const e of (await readJson(this.appliedFile, AppliedLog)) ?? []) this.applied.set(e.id, e.result);
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loopDone;
  }

  /** Ask for an immediate poll (e.g. after a job status change) by cutting the current long poll short. */
  nudge(): void {
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      this.abort = new AbortController();
      try {
        const res = await this.opts.client.call<PollResponse>('POST', '/v1/agent/poll', {
          wait: this.answered ? this.opts.pollWaitSec : 0,
          agentTime: Date.now(), agentVersion: TANDEM_VERSION,
          ...(this.desiredVersion !== undefined ? { desiredVersion: this.desiredVersion } : {}),
          ...this.opts.collect(),
        }, { signal: this.abort.signal, timeoutMs: (this.opts.pollWaitSec + 15) * 1000 });
        if (!this.connected) this.opts.log.info({ attempt }, 'connected to hub');
        this.connected = true;
        this.lastContactAt = Date.now();
        attempt = 0;
        await this.opts.onResponse?.(res);
        this.desiredVersion = res.desiredVersion;
        this.answered = true;
        for (const cmd of res.commands) await this.runCommand(cmd);
      } catch (err) {
        if (!this.running) break;
        if (this.abort.signal.aborted) continue; // nudged: poll again at once
        if (this.connected) this.opts.log.warn({ err: (err as Error).message }, 'lost contact with hub; retrying with backoff');
        this.connected = false;
        if (err instanceof TandemError && err.code === 'agent_unknown') {
          this.opts.log.error({}, 'the hub no longer knows this agent; re-enrol it with a new config token (remove identity.json)');
        }
        await sleep(backoffDelay(attempt++), this.abort.signal);
      }
    }
  }

  private async runCommand(cmd: AgentCommand): Promise<void> {
    let result = this.applied.get(cmd.id);
    if (!result) {
      const handler = this.opts.handlers.get(cmd.kind);
      try {
        if (!handler) throw new TandemError('unknown_command', `This agent (version ${TANDEM_VERSION}) does not know the command "${cmd.kind}"; upgrade it.`);
        result = { ok: true, result: (await handler(cmd.payload, cmd)) ?? null };
      } catch (err) {
        const e = err as Partial<TandemError>;
        result = { ok: false, error: { code: e.code ?? 'command_failed', message: e.message ?? String(err) } };
      }
      this.applied.set(cmd.id, result);
      while (this.applied.size > APPLIED_KEEP) this.applied.delete(this.applied.keys().next().value!);
      await writeFileAtomic(this.appliedFile, JSON.stringify([...this.applied].map(([id, r]) => ({ id, result: r }))));
      this.opts.log.info({ command: cmd.id, kind: cmd.kind, ok: result.ok }, 'command applied');
    }
    // If this report is lost, the hub re-delivers the command and the stored result is sent again.
    await this.opts.client.call('POST', `/v1/agent/commands/${encodeURIComponent(cmd.id)}/result`, result);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
