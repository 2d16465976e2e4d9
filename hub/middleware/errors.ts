// Turns every failure into {"error":{code,message}} with the right status; unexpected ones are logged as 500s.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { TandemError, errorBody } from '../../shared/errors';
import type { HubEnv } from '../deps';

export function zodMessage(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
}

export function onError(err: Error, c: Context<HubEnv>) {
  if (err instanceof TandemError) {
    if (err.status === 401 || err.status === 403) {
      c.get('deps')?.log.warn({ code: err.code, path: c.req.path }, 'request refused');
    }
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof ZodError) {
    return c.json(errorBody('invalid_request', zodMessage(err)), 400);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? 'payload_too_large' : status === 401 ? 'unauthorized' : 'bad_request';
    return c.json(errorBody(code, err.message || 'Bad request'), status);
  }
  c.get('deps')?.log.error({ err: String(err?.stack ?? err), path: c.req.path }, 'unhandled error');
  return c.json(errorBody('internal', 'The hub failed to handle this request; see the hub log.'), 500);
}

export function notFoundHandler(c: Context<HubEnv>) {
  return c.json(errorBody('route_not_found', `No route ${c.req.method} ${c.req.path}. See /v1/openapi.json.`), 404);
}
