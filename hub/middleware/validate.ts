// Reads and validates request bodies and queries against the shared zod schemas.
import type { Context } from 'hono';
import type { z } from 'zod';
import { TandemError } from '../../shared/errors';
import { zodMessage } from './errors';

export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!type.includes('application/json')) {
    throw new TandemError('unsupported_media_type', 'Send the body as JSON with Content-Type: application/json.', 400);
  }
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new TandemError('invalid_json', 'The request body is not valid JSON.', 400);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new TandemError('invalid_request', zodMessage(parsed.error), 400);
  return parsed.data;
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new TandemError('invalid_query', zodMessage(parsed.error), 400);
  return parsed.data;
}
