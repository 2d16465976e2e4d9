// The OpenAPI document, generated from the same zod schemas the routes validate with.
import { z } from 'zod';
import * as control from '../shared/protocol/control';
import { TANDEM_VERSION } from '../shared/version';

export interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  summary: string;
  auth: 'none' | 'read' | 'admin' | 'agent' | 'issuer' | 'portal';
  body?: z.ZodType;
  response?: z.ZodType;
}

const core: RouteDoc[] = [
  { method: 'get', path: '/v1/health', summary: 'Liveness and version', auth: 'none', response: control.Health },
  { method: 'get', path: '/.well-known/jwks.json', summary: 'Hub public signing keys', auth: 'none' },
  { method: 'post', path: '/v1/api-tokens', summary: 'Create an API token (shown once)', auth: 'admin', body: control.ApiTokenCreate, response: control.ApiTokenCreated },
  { method: 'get', path: '/v1/api-tokens', summary: 'List API tokens', auth: 'admin' },
  { method: 'delete', path: '/v1/api-tokens/{id}', summary: 'Delete an API token', auth: 'admin' },
  { method: 'post', path: '/v1/agent-tokens', summary: 'Create an agent config token', auth: 'admin', body: control.AgentTokenCreate, response: control.AgentTokenCreated },
  { method: 'get', path: '/v1/agent-tokens', summary: 'List agent config tokens', auth: 'read' },
  { method: 'delete', path: '/v1/agent-tokens/{id}', summary: 'Revoke an agent config token', auth: 'admin' },
  { method: 'post', path: '/v1/agent/enrol', summary: 'Enrol an agent with a config token', auth: 'none', body: control.EnrolRequest, response: control.EnrolResponse },
  { method: 'post', path: '/v1/agent/poll', summary: 'Agent status report and long poll for commands', auth: 'agent', body: control.PollRequest, response: control.PollResponse },
  { method: 'post', path: '/v1/agent/commands/{id}/result', summary: 'Report a command result', auth: 'agent', body: control.CommandResult },
  { method: 'get', path: '/v1/servers', summary: 'List servers', auth: 'read' },
  { method: 'get', path: '/v1/servers/{id}', summary: 'Show a server', auth: 'read', response: control.ServerView },
  { method: 'patch', path: '/v1/servers/{id}', summary: 'Change server settings', auth: 'admin', body: control.ServerPatch, response: control.ServerView },
  { method: 'delete', path: '/v1/servers/{id}', summary: 'Remove a server (refused while a job uses it)', auth: 'admin' },
  { method: 'post', path: '/v1/servers/{id}/commands', summary: 'Queue a command for an agent', auth: 'admin', body: control.CommandCreate, response: control.CommandView },
  { method: 'get', path: '/v1/commands/{id}', summary: 'Show a command and its result', auth: 'read', response: control.CommandView },
];

const registry: RouteDoc[] = [...core];

/** Other modules add their routes' documentation here when they are imported. */
export function documentRoutes(docs: RouteDoc[]): void {
  registry.push(...docs);
}

const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function schema(s: z.ZodType, io: 'input' | 'output') {
  return z.toJSONSchema(s, { io, unrepresentable: 'any' });
}

export function buildOpenApi() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of registry) {
    const op: Record<string, unknown> = {
      summary: r.summary,
      security: r.auth === 'none' ? [] : [{ bearer: [] }],
      'x-tandem-auth': r.auth,
      responses: {
        '200': { description: 'OK', ...(r.response ? { content: { 'application/json': { schema: schema(r.response, 'output') } } } : {}) },
        '4XX': { description: 'Refused', content: { 'application/json': { schema: schema(ErrorSchema, 'output') } } },
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } };
    (paths[r.path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Tandem hub API', version: TANDEM_VERSION },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
