// The agent's HTTPS data port: peer traffic (streams, manifests, monitor probes) and a health route.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ZodError } from 'zod';
import { TandemError, errorBody } from '../shared/errors';
import { zodMessageOf } from './zod-message';
import type { TlsIdentity } from './tls';
import type { AgentLogger } from './log';

export type DataHandler = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

export class DataServer {
  private routes = new Map<string, DataHandler>();
  /** @internal the server, for tests */
  server?: https.Server;
  port = 0;

  constructor(private tls: TlsIdentity, private log: AgentLogger) {}

  route(method: string, path: string, handler: DataHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  async listen(port: number, host: string): Promise<number> {
    this.server = https.createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => void this.dispatch(req, res));
    this.server.keepAliveTimeout = 30_000;
    // A stream's body may take hours (a large file over a slow or bandwidth-limited link); Node's default of 300 s
    // for a whole request would cut it off and the source would resend the same batch for ever. The peer is
    // authenticated by its job token once the headers are in, and headersTimeout still bounds that part.
    this.server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const s = this.server;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    const handler = this.routes.get(`${req.method} ${url.pathname}`);
    try {
      if (!handler) throw new TandemError('route_not_found', `No data-port route ${req.method} ${url.pathname}.`, 404);
      await handler(req, res, url.searchParams);
    } catch (err) {
      const e = err instanceof TandemError ? err
        : err instanceof ZodError ? new TandemError('invalid_request', `The request body is not valid: ${zodMessageOf(err)}.`, 400)
          : new TandemError('internal', (err as Error).message, 500);
      // An unexpected failure with its stack; one the target knows (its disk full) by its code and what to do.
      if (e.status >= 500 && err instanceof TandemError) this.log.error({ code: e.code, err: e.message, path: url.pathname }, 'data-port request failed');
      else if (e.status >= 500) this.log.error({ err: (err as Error).stack, path: url.pathname }, 'data-port handler failed');
      else this.log.warn({ code: e.code, path: url.pathname, msg2: e.message }, 'data-port request refused');
      if (!res.headersSent) {
        // A refused stream's body may still be arriving: the connection closes after this answer, so the client does
        // not queue its next request behind the rest of this body on it (that waited out the keep-alive timeout).
        if (!req.complete) res.setHeader('connection', 'close');
        sendJson(res, e.status, errorBody(e.code, e.message));
      } else res.destroy();
      req.resume();
    }
  }
}
