// Liveness and public key material: no authentication.
import { Hono } from 'hono';
import { TANDEM_VERSION } from '../../shared/version';
import type { HubEnv } from '../deps';

export const healthRoutes = new Hono<HubEnv>()
  .get('/v1/health', (c) => c.json({ ok: true as const, version: TANDEM_VERSION }))
  .get('/.well-known/jwks.json', (c) => c.json({ keys: c.get('deps').keys.publicJwks() }));
