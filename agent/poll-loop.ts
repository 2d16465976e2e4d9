// The agent's command channel: long-polls the hub, reports state, runs each command once, backs off while the hub is away.
import path from 'node:path';
import { z } from 'zod';
import { PollResponse, type AgentCommand, type CommandResult } from '../shared/protocol/control';
import { backoffDelay } from '../shared/backoff';
import { TandemError } from '../shared/errors';
import { TANDEM_VERSION } from '../shared/version';
import type { HubClient } from './hub-client';
import type { AgentLogger } from './log';
import { readJson, writeFileAtomic } from './state-store';
import { zodMessageOf } from './zod-message';

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
  /** A goal state as it arrives, before it waits its turn behind the work of earlier polls (onResponse applies it). */
  onReceived?: (res: PollResponse) => void;
}

const AppliedLog = z.array(z.object({ id: z.string(), result: z.any() }));
const APPLIED_KEEP = 500;
/** Poll interval while a command the hub sent is still running here. */
const BUSY_POLL_MS = 1000;
/** Poll interval against a hub that does not hold polls (offline after 15 s without one). */
const IDLE_REPOLL_MS = 5000;
/** Goal version sent after a goal failed to apply: no version the hub has, so it sends its goal again. */
const UNAPPLIED = 'unapplied';

export class PollLoop {
  private running = false;
  private abort = new AbortController();
  private applied = new Map<string, CommandResult>();
  private loopDone: Promise<void> = Promise.resolve();
  /** Goal states applied and commands run, in the order received (see enqueue). */
  private work: Promise<void> = Promise.resolve();
  /** Commands received and not answered yet: a poll that brings them again does not run them twice. */
  private readonly queued = new Set<string>();
  private applyFailures = 0;
  /** Goal versions: the last one queued to be applied, and the last one applied. */
  private queuedVersion: string | undefined;
  private appliedVersion: string | undefined;
  /** Work queued and not started yet. */
  private waitingItems = 0;
  connected = false;
  lastContactAt = 0;
  /**
   * The goal version last received (applied in order, see enqueue): the hub answers at once while it has another one
   * (so a cut-short answer is not lost). Sent only once the hub has named one: a hub older than this agent refuses
   * fields it does not know.
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
    await this.work;
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
        if (this.applyFailures > 0) await sleep(backoffDelay(this.applyFailures - 1), this.abort.signal);
        const wait = this.answered ? this.opts.pollWaitSec : 0;
        const heldVersion = this.desiredVersion;
        const answer = await this.opts.client.call<unknown>('POST', '/v1/agent/poll', {
          wait,
          agentTime: Date.now(), agentVersion: TANDEM_VERSION,
          // After a goal failed to apply, a version the hub does not have: it answers at once with its goal again.
          ...(this.desiredVersion !== undefined ? { desiredVersion: this.applyFailures > 0 ? UNAPPLIED : this.desiredVersion } : {}),
          ...this.opts.collect(),
        }, { signal: this.abort.signal, timeoutMs: (this.opts.pollWaitSec + 15) * 1000 });
        const res = parsePollAnswer(answer);
        if (!this.connected) this.opts.log.info({ attempt }, 'connected to hub');
        this.connected = true;
        this.lastContactAt = Date.now();
        attempt = 0;
        this.desiredVersion = res.desiredVersion;
        this.answered = true;
        const fresh = res.commands.filter((c) => !this.queued.has(c.id));
        // The same goal already waiting to be applied (a long apply under way) is not queued again.
        if (fresh.length || !(this.waitingItems > 0 && res.desiredVersion === this.queuedVersion)) this.enqueue(res, fresh);
        // The hub answers at once while a command it sent is unanswered: one still running here is no reason to poll
        // in a tight loop. Polling goes on meanwhile (slower), so the hub still sees this agent alive.
        if (fresh.length < res.commands.length) await sleep(BUSY_POLL_MS, this.abort.signal);
        // A hub that does not hold polls (on Workers it answers at once, waitSec 0) is not asked again at once when it had
        // nothing new: polled every few seconds instead, well within its offline grace. A job change cuts this short.
        else if (wait > 0 && res.waitSec === 0 && !res.commands.length && res.desiredVersion === heldVersion) {
          await sleep(IDLE_REPOLL_MS, this.abort.signal);
        }
      } catch (err) {
        if (!this.running) break;
        if (this.abort.signal.aborted) continue; // nudged: poll again at once
        // The first failure of a streak is logged, also before the first contact (a wrong hub URL, a proxy in between).
        if (this.connected || attempt === 0) {
          this.opts.log.warn({ err: (err as Error).message }, this.connected ? 'lost contact with hub; retrying with backoff' : 'cannot poll the hub; retrying with backoff');
        }
        this.connected = false;
        if (err instanceof TandemError && err.code === 'agent_unknown') {
          this.opts.log.error({}, 'the hub no longer knows this agent; re-enrol it with a new config token (remove identity.json)');
        }
        await sleep(backoffDelay(attempt++), this.abort.signal);
      }
    }
  }

  /**
   * Applies a poll's goal state, then runs its commands (they may concern a job that goal creates), after the work of
   * earlier polls and beside the polling: starting a job can take a while (its change capture stats the whole protected
   * set, some 40 s per million files), and an agent that stopped polling meanwhile would look offline to the hub (an
   * agent.offline alert after pollWait + 15 s) and stop reporting on every other job it runs.
   */
  private enqueue(res: PollResponse, commands: AgentCommand[]): void {
    for (const c of commands) this.queued.add(c.id);
    this.opts.onReceived?.(res);
    this.queuedVersion = res.desiredVersion;
    this.waitingItems++;
    this.work = this.work.then(async () => {
      this.waitingItems--;
      try {
        await this.opts.onResponse?.(res);
        this.applyFailures = 0;
      } catch (err) {
        // Asked for again after a back-off (the poll names no version the hub has), cutting a long poll short.
        this.applyFailures++;
        this.opts.log.error({ err: (err as Error).message }, 'applying the hub\'s goal state failed; retrying');
        for (const c of commands) this.queued.delete(c.id); // delivered again; run once the goal is applied
        this.nudge();
        return;
      }
      const newGoal = res.desiredVersion !== undefined && res.desiredVersion !== this.appliedVersion;
      this.appliedVersion = res.desiredVersion;
      for (const cmd of commands) {
        try {
          await this.runCommand(cmd);
        } catch (err) {
          this.opts.log.warn({ command: cmd.id, err: (err as Error).message }, 'could not report a command result; the hub delivers the command again');
        } finally {
          this.queued.delete(cmd.id);
        }
      }
      // What a new goal or a command changed reaches the hub now, not when the long poll under way ends.
      if (newGoal || commands.length) this.nudge();
    });
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

/**
 * The hub's answer to a poll, checked: something else answering at the hub's address (a proxy's error page, another
 * service) is a clear error, retried with back-off like an unreachable hub, never a TypeError deep in the loop.
 */
function parsePollAnswer(answer: unknown): PollResponse {
  const parsed = PollResponse.safeParse(answer);
  if (parsed.success) return parsed.data;
  throw new TandemError('hub_protocol', `The hub's address answered the poll with something that is not a Tandem poll answer (${zodMessageOf(parsed.error, 'body')}); check the hub URL in identity.json, or a proxy in between.`, 502);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
