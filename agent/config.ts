// The agent's one typed configuration object, from flags, environment and (at enrolment) the config token.
import { z } from 'zod';
import os from 'node:os';
import path from 'node:path';
import { TandemError } from '../shared/errors';
import { zodMessageOf } from './zod-message';

export const AgentConfig = z.strictObject({
  /** Agent config token from the hub; needed only until the agent has enrolled. */
  token: z.string().optional(),
  dataDir: z.string().min(1),
  name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore'),
  /** HTTPS data port for peer traffic. */
  port: z.number().int().min(0).max(65535),
  /** Address the data port listens on. */
  listen: z.string().min(1),
  /** Addresses peers should use to reach this agent (default: the host's non-loopback addresses). */
  advertise: z.array(z.string()).optional(),
  /** Seconds the hub may hold each poll open. */
  pollWaitSec: z.number().int().min(0).max(25),
  /**
   * CPU niceness the agent runs at (0 = the default priority, 19 = lowest). Positive by default, so
   * replication never takes CPU from the application it protects; the kernel gives it every idle cycle.
   */
  nice: z.number().int().min(0).max(19),
  logLevel: z.string(),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

export interface AgentFlags {
  token?: string;
  dataDir?: string;
  name?: string;
  port?: string | number;
  listen?: string;
  advertise?: string;
  pollWait?: string | number;
  nice?: string | number;
  logLevel?: string;
}

export function loadAgentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const raw = {
    token: flags.token ?? env.TANDEM_TOKEN,
    dataDir: path.resolve(flags.dataDir ?? env.TANDEM_AGENT_DATA_DIR ?? './tandem-agent'),
    name: flags.name ?? env.TANDEM_AGENT_NAME ?? os.hostname().split('.')[0]!,
    port: Number(flags.port ?? env.TANDEM_AGENT_PORT ?? 6325),
    listen: flags.listen ?? env.TANDEM_AGENT_LISTEN ?? '0.0.0.0',
    advertise: (flags.advertise ?? env.TANDEM_AGENT_ADVERTISE)?.split(',').map((s) => s.trim()).filter(Boolean),
    pollWaitSec: Number(flags.pollWait ?? env.TANDEM_POLL_WAIT ?? 20),
    nice: Number(flags.nice ?? env.TANDEM_AGENT_NICE ?? 10),
    logLevel: flags.logLevel ?? env.TANDEM_LOG_LEVEL ?? 'info',
  };
  const parsed = AgentConfig.safeParse(raw);
  if (!parsed.success) throw new TandemError('invalid_config', `Agent configuration is invalid: ${zodMessageOf(parsed.error)}`);
  return parsed.data;
}

/** The configuration as printed by --print-config: secrets masked. */
export function printableConfig(cfg: AgentConfig): Record<string, unknown> {
  return { ...cfg, token: cfg.token ? '***' : undefined };
}
