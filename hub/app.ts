// Builds the hub's Hono app from its dependencies; runtime-neutral (web-standard Request/Response only).
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorBody } from '../shared/errors';
import type { HubDeps, HubEnv } from './deps';
import { onError, notFoundHandler } from './middleware/errors';
import { routeGroups } from './routes';

export function createApp(deps: HubDeps): Hono<HubEnv> {
  const app = new Hono<HubEnv>();
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('/v1/*', bodyLimit({
    maxSize: deps.config.maxBodyBytes,
    onError: (c) => c.json(errorBody('payload_too_large', `Request bodies on control routes are limited to ${deps.config.maxBodyBytes} bytes.`), 413),
  }));
  for (const group of routeGroups) app.route('/', group);
  app.onError(onError);
  app.notFound(notFoundHandler);
  return app;
}
