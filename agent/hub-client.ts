// HTTP client for the hub API, used by the agent's poll loop and by the operator CLI.
import { request, type Dispatcher } from 'undici';
import { TandemError } from '../shared/errors';

export class HubClient {
  constructor(
    readonly baseUrl: string,
    private token?: string,
    private dispatcher?: Dispatcher,
  ) {}

  setToken(token: string) {
    this.token = token;
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
    const url = new URL(path, this.baseUrl);
    let res;
    try {
      res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: opts.signal,
        headersTimeout: opts.timeoutMs ?? 60_000,
        bodyTimeout: opts.timeoutMs ?? 60_000,
        dispatcher: this.dispatcher,
      });
    } catch (err) {
      throw new TandemError('hub_unreachable', `Cannot reach the hub at ${this.baseUrl}: ${(err as Error).message}. Is it running?`, 503);
    }
    const text = await res.body.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: reported below */
    }
    if (res.statusCode >= 400) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new TandemError(e?.code ?? 'hub_error', e?.message ?? `The hub answered ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode as 400);
    }
    return json as T;
  }
}
