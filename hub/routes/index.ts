// Every route group of the hub, in mount order. Add a resource by adding its file here.
import type { Hono } from 'hono';
import type { HubEnv } from '../deps';
import { healthRoutes } from './health';
import { apiTokenRoutes } from './api-tokens';
import { agentTokenRoutes } from './agent-tokens';
import { agentRoutes } from './agent';
import { serverRoutes } from './servers';
import { openapiRoutes } from './openapi';
import { eventRoutes } from './events';
import { notificationRoutes } from './notifications';
import { webhookRoutes } from './webhooks';
import { jobRoutes } from './jobs';
import { licenceRoutes } from './licences';
import { orgRoutes } from './orgs';
import { portalRoutes } from '../portal/routes';

export const routeGroups: Hono<HubEnv>[] = [
  healthRoutes,
  openapiRoutes,
  apiTokenRoutes,
  agentTokenRoutes,
  agentRoutes,
  serverRoutes,
  eventRoutes,
  notificationRoutes,
  webhookRoutes,
  jobRoutes,
  licenceRoutes,
  orgRoutes,
  portalRoutes,
];
