// The agent channel: enrolment with a config token, the long-poll command channel, and command results.
import { Hono } from 'hono';
import { and, eq, inArray, asc, isNull, or, lt, sql } from 'drizzle-orm';
import { EnrolRequest, PollRequest, CommandResult, ConfigTokenClaims } from '../../shared/protocol/control';
import { TandemError, conflict, notFound } from '../../shared/errors';
import { verifyHubJwt, randomId, randomSecret, hashSecret } from '../../shared/tokens';
import { agentTokens, servers, commands } from '../db/schema';
import { requireAgent } from '../middleware/auth';
import { parseBody } from '../middleware/validate';
import type { HubDeps, HubEnv, AuthAgent } from '../deps';
import { iso } from './time';
import { notePollEdges } from '../events/agent-watch';
import { agentGoal } from '../jobs/goal';
import { ingestJobReports } from '../jobs/ingest';
import { applyTrialLicence } from '../licensing/trial';

/** How often a waiting poll looks for goal changes made on another hub instance (this one's changes wake it). */
const GOAL_RECHECK_MS = 5000;

async function goalFor(deps: HubDeps, serverId: string) {
  const [server] = await deps.db.select({ settings: servers.settings }).from(servers).where(eq(servers.id, serverId));
  return agentGoal(deps, serverId, (server?.settings as Record<string, unknown> | null) ?? {});
}

async function pendingCommands(deps: HubDeps, serverId: string) {
  return deps.db.select().from(commands)
    .where(and(eq(commands.serverId, serverId), inArray(commands.status, ['pending', 'delivered'])))
    .orderBy(asc(commands.createdAt))
    .limit(100);
}

export const agentRoutes = new Hono<HubEnv>()
  .post('/v1/agent/enrol', async (c) => {
    const deps = c.get('deps');
    const { db, clock, keys, log } = deps;
    const body = await parseBody(c, EnrolRequest);
    const now = clock.now();
    const claims = ConfigTokenClaims.parse(
      await verifyHubJwt(body.configToken, keys.publicJwks(), 'agent-config', Math.floor(now / 1000)),
    );
    const [tok] = await db.select().from(agentTokens).where(eq(agentTokens.id, claims.sub));
    if (!tok) throw new TandemError('token_unknown', 'This config token is not known to the hub. Create a new one.', 401);
    if (tok.revokedAt != null) throw new TandemError('token_revoked', 'This config token was revoked. Create a new one.', 401);
    if (tok.maxUses != null && tok.uses >= tok.maxUses) {
      throw new TandemError('token_used_up', `This config token has been used ${tok.uses} of ${tok.maxUses} times. Create a new one.`, 401);
    }
    const host = body.host;
    const [existing] = await db.select().from(servers).where(and(eq(servers.orgId, tok.orgId), eq(servers.name, host.name)));
    if (existing && existing.machineId !== host.machineId) {
      throw conflict('server_name_taken', `A different machine is already enrolled as "${host.name}". Start the agent with another --name, or remove that server first.`);
    }
    // Count the use atomically, so two hosts racing for the last use cannot both enrol.
    const used = await db.update(agentTokens).set({ uses: sql`${agentTokens.uses} + 1` })
      .where(and(eq(agentTokens.id, tok.id), isNull(agentTokens.revokedAt),
        or(isNull(agentTokens.maxUses), lt(agentTokens.uses, agentTokens.maxUses))))
      .returning({ uses: agentTokens.uses });
    if (used.length === 0) throw new TandemError('token_used_up', 'This config token has no uses left. Create a new one.', 401);

    const credential = randomSecret('tnd_agent');
    const settings = { ...(tok.defaults ?? {}), ...(existing?.settings ?? {}) };
    const facts = {
      hostname: host.hostname, machineId: host.machineId, os: host.os, agentVersion: host.agentVersion,
      addresses: host.addresses, dataPort: host.dataPort, certFingerprint: host.certFingerprint, filesystems: host.filesystems,
    };
    const serverId = existing?.id ?? randomId('srv');
    if (existing) {
      await db.update(servers).set({ ...facts, credentialHash: await hashSecret(credential), enrolledWith: tok.id, settings })
        .where(eq(servers.id, existing.id));
    } else {
      await db.insert(servers).values({
        id: serverId, orgId: tok.orgId, name: host.name, credentialHash: await hashSecret(credential),
        enrolledWith: tok.id, ...facts, settings, state: null, createdAt: now, lastSeenAt: null,
        lastPollWaitSec: null, clockSkewMs: null,
      });
    }
    log.info({ serverId, name: host.name, reenrolled: !!existing }, 'agent enrolled');
    const [enrolled] = await db.select().from(servers).where(eq(servers.id, serverId));
    if (enrolled) await applyTrialLicence(deps, enrolled);
    deps.events.raise({ event: 'agent.enrolled', orgId: tok.orgId, serverId, fields: { serverName: host.name, hostname: host.hostname, reenrolled: !!existing } });
    return c.json({ serverId, orgId: tok.orgId, credential, settings }, existing ? 200 : 201);
  })
  .post('/v1/agent/poll', requireAgent, async (c) => {
    const deps = c.get('deps');
    const { db, clock, waker, config } = deps;
    const auth = c.get('auth') as AuthAgent;
    const body = await parseBody(c, PollRequest);
    const wait = Math.min(body.wait, config.maxPollWaitSec);
    const start = clock.now();
    await notePollEdges(deps, auth.serverId, start, body.agentTime - start);
    await db.update(servers).set({
      lastSeenAt: start, lastPollWaitSec: Math.ceil(wait), clockSkewMs: body.agentTime - start,
      agentVersion: body.agentVersion, state: body.state, ...(body.addresses ? { addresses: body.addresses } : {}),
      ...(body.dataPort ? { dataPort: body.dataPort } : {}),
    }).where(eq(servers.id, auth.serverId));

    let rows = await pendingCommands(deps, auth.serverId);
    const deadline = start + wait * 1000;
    const signal = c.req.raw.signal;
    await ingestJobReports(deps, auth.serverId, body.jobs);
    let goal = await goalFor(deps, auth.serverId);
    let goalAt = clock.now();
    let goalFresh = true;
    // An agent that names the goal version it holds is answered at once when that is not the current one: its last
    // answer was lost (it cut the poll short to report, or the connection dropped) or a change was made meanwhile.
    const stale = () => body.desiredVersion !== undefined && body.desiredVersion !== goal.version;
    while (rows.length === 0 && !stale() && clock.now() < deadline && !signal.aborted) {
      // Woken at once by a command or job change in this process; other hub instances' commands are seen on the next
      // 1 s re-check, their job changes on the next goal re-check.
      const woken = await waker.wait(auth.serverId, Math.min(1000, deadline - clock.now()), signal);
      goalFresh = false;
      rows = await pendingCommands(deps, auth.serverId);
      if (signal.aborted) break;
      if (woken || clock.now() - goalAt >= GOAL_RECHECK_MS) {
        goal = await goalFor(deps, auth.serverId);
        goalAt = clock.now();
        goalFresh = true;
      }
      if (woken) break;
      // Heartbeat while the agent waits: "the source stopped polling" must mean the agent is gone, not idle.
      await db.update(servers).set({ lastSeenAt: clock.now() }).where(eq(servers.id, auth.serverId));
    }
    if (!goalFresh) goal = await goalFor(deps, auth.serverId);
    const end = clock.now();
    const fresh = rows.filter((r) => r.status === 'pending').map((r) => r.id);
    if (fresh.length) {
      await db.update(commands).set({ status: 'delivered', deliveredAt: end }).where(inArray(commands.id, fresh));
    }
    if (wait > 0) await db.update(servers).set({ lastSeenAt: end }).where(eq(servers.id, auth.serverId));
    return c.json({
      serverId: auth.serverId,
      hubTime: end,
      commands: rows.map((r) => ({ id: r.id, kind: r.kind, payload: r.payload, createdAt: iso(r.createdAt) })),
      desired: goal.desired,
      settings: goal.settings,
      desiredVersion: goal.version,
      waitSec: wait,
    });
  })
  .post('/v1/agent/commands/:id/result', requireAgent, async (c) => {
    const { db, clock } = c.get('deps');
    const auth = c.get('auth') as AuthAgent;
    const id = c.req.param('id');
    const body = await parseBody(c, CommandResult);
    const [cmd] = await db.select().from(commands).where(and(eq(commands.id, id), eq(commands.serverId, auth.serverId)));
    if (!cmd) throw notFound('command', id);
    // At-least-once delivery: a repeated result for a finished command is accepted and ignored.
    if (cmd.status === 'succeeded' || cmd.status === 'failed') return c.json({ id, status: cmd.status, duplicate: true });
    const status = body.ok ? 'succeeded' : 'failed';
    await db.update(commands).set({ status, result: body.ok ? (body.result ?? null) : body.error ?? null, completedAt: clock.now() })
      .where(eq(commands.id, id));
    return c.json({ id, status, duplicate: false });
  });
