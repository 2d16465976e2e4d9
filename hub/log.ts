// Structured logging facade: pino on Node, console JSON lines elsewhere; one line per event, never secrets.
export interface Logger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

export function consoleLogger(base: Record<string, unknown> = {}): Logger {
  const line = (level: string) => (obj: Record<string, unknown>, msg: string) =>
    console.log(JSON.stringify({ level, time: Date.now(), ...base, ...obj, msg }));
  return { info: line('info'), warn: line('warn'), error: line('error'), debug: () => {} };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
