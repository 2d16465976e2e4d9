// HTTPS client to a peer agent's data port, pinned to the certificate fingerprint the hub registered.
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import type { TLSSocket } from 'node:tls';
import { Readable } from 'node:stream';
import type { z } from 'zod';
import { TandemError } from '../../shared/errors';
import type { PeerInfo } from '../../shared/protocol/jobs';
import { zodMessageOf } from '../zod-message';
import { limitTo, paced, type SharedLimit } from './bandwidth';

/** `onCheck` hears each new connection's verdict: the refusal when the certificate is not the pinned one, else null. */
export function pinnedDispatcher(fingerprint: string, onCheck?: (refusal: TandemError | null) => void): Agent {
  // No TLS session reuse: a resumed session carries no peer certificate, so the pin could not be checked.
  const base = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return new Agent({
    keepAliveTimeout: 30_000,
    connect: (opts, cb) => {
      base(opts, (err, socket) => {
        if (err) return cb(err, null);
        const fp = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256;
        if (fp !== fingerprint) {
          socket.destroy();
          const refusal = new TandemError('peer_cert_mismatch', `The peer at ${opts.hostname}:${opts.port} presented certificate ${fp ?? 'none'}, not the registered ${fingerprint}. Refusing to send data. If that agent's certificate was replaced on purpose (a new <data-dir>/tls), enrol it again so the hub registers the new one; otherwise find out what is answering on that address.`, 502);
          onCheck?.(refusal);
          return cb(refusal, null);
        }
        onCheck?.(null);
        cb(null, socket);
      });
    },
  });
}

export class PeerClient {
  private dispatcher: Agent;
  readonly baseUrl: string;
  /** Why the last new connection was refused when the peer's certificate was not the pinned one; null once one matches. */
  certMismatch: string | null = null;
  /** The bandwidth limit shared by every job that sends to this address. */
  readonly limit: SharedLimit;

  constructor(readonly peer: PeerInfo, private token: () => string) {
    this.dispatcher = pinnedDispatcher(peer.fingerprint, (refusal) => { this.certMismatch = refusal?.message ?? null; });
    const host = peer.addresses[0] ?? '127.0.0.1';
    this.baseUrl = `https://${host.includes(':') ? `[${host}]` : host}:${peer.port}`;
    this.limit = limitTo(this.baseUrl);
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {});
  }

  /** Posts to the peer and validates its answer with `answer` (the message's schema in shared/protocol). */
  private async send<T>(path: string, body: Dispatcher.DispatchOptions['body'], contentType: string, answer: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    let res;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method: 'POST', dispatcher: this.dispatcher, signal, body,
        headers: { 'content-type': contentType, authorization: `Bearer ${this.token()}` },
        headersTimeout: 600_000, bodyTimeout: 600_000,
      });
    } catch (err) {
      if (err instanceof TandemError) throw err;
      throw new TandemError('peer_unreachable', `Cannot reach ${this.peer.name} at ${this.baseUrl}: ${(err as Error).message}`, 503);
    }
    const text = await res.body.text();
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    if (res.statusCode >= 400) {
      const e = (json as { error?: { code?: string; message?: string } })?.error;
      throw new TandemError(e?.code ?? 'peer_error', e?.message ?? `peer answered ${res.statusCode}`, res.statusCode as 400);
    }
    const parsed = answer.safeParse(json);
    if (!parsed.success) {
      const route = path.split('?')[0];
      throw new TandemError('peer_answer_invalid', `${this.peer.name} answered ${route} with an unexpected body (${zodMessageOf(parsed.error)}); check that both agents run the same Tandem version.`, 502);
    }
    return parsed.data;
  }

  json<T>(path: string, body: unknown, answer: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    return this.send(path, JSON.stringify(body), 'application/json', answer, signal);
  }

  stream<T>(path: string, body: AsyncIterable<Buffer>, answer: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    // Unlimited streams go as they are (no extra step per chunk); a limit set meanwhile applies from the next request.
    const source = this.limit.rate() === null ? body : paced(body, this.limit, signal);
    return this.send(path, Readable.from(source), 'application/x-tandem-frames', answer, signal);
  }
}
