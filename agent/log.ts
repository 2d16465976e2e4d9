// The agent's structured logger (pino, one JSON line per event; never logs secrets).
import pino from 'pino';

export type AgentLogger = pino.Logger;

export function createAgentLogger(level: string, base: Record<string, unknown> = {}): AgentLogger {
  return pino({ level, base: { svc: 'agent', ...base } });
}
