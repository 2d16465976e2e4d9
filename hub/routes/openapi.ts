// Serves the generated OpenAPI document.
import { Hono } from 'hono';
import type { HubEnv } from '../deps';
import { buildOpenApi } from '../openapi';

export const openapiRoutes = new Hono<HubEnv>().get('/v1/openapi.json', (c) => c.json(buildOpenApi()));
