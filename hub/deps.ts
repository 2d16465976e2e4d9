// What the hub app is built from: injected so the same routes run on Node (libSQL) and Workers (D1).
import type { Db } from './db/types';
import type { KeyStore } from './keys';
import type { CommandWaker } from './commands/waker';
import type { Logger } from './log';
import type { EventBus } from './events/bus';
import type { PasswordHasher } from './portal/password';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export interface HubConfig {
  /** URL agents use to reach the hub; when unset, the URL of the request that minted the token is used. */
  publicUrl?: string;
  /** Longest long-poll the runtime supports (25 s on Node, 0 on Workers). */
  maxPollWaitSec: number;
  /** Largest JSON body accepted on control routes. */
  maxBodyBytes: number;
  startedAt: number;
}

export interface HubDeps {
  db: Db;
  clock: Clock;
  keys: KeyStore;
  waker: CommandWaker;
  log: Logger;
  config: HubConfig;
  /** Raise catalog events: `deps.events.raise({ event: 'job.started', orgId, jobId, fields })`; never throws or waits. */
  events: EventBus;
  /** Portal password KDF; Node injects scrypt (hub/portal/password-node.ts), Workers fall back to PBKDF2. */
  passwordHasher?: PasswordHasher;
}

export interface AuthApi {
  kind: 'api';
  tokenId: string;
  orgId: string;
  role: 'admin' | 'monitor' | 'issuer';
}
export interface AuthAgent {
  kind: 'agent';
  serverId: string;
  orgId: string;
}
export type AuthContext = AuthApi | AuthAgent;

export type HubEnv = { Variables: { deps: HubDeps; auth: AuthContext } };
