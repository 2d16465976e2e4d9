import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentIdentity, identityFile, loadIdentity, readJson, saveIdentity } from './state-store';

describe('agent state files', () => {
  it('reads back what it wrote, and none is null', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-state-'));
    expect(await loadIdentity(dir)).toBeNull();
    const id: AgentIdentity = { hubUrl: 'http://127.0.0.1:6320', serverId: 'srv_1', orgId: 'org_1', credential: 'c', enrolledAt: '2026-12-07T00:00:00Z' };
    await saveIdentity(dir, id);
    expect(await loadIdentity(dir)).toEqual(id);
  });

  it('a damaged file is an error naming it and what to do, not a bare parser message', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-state-'));
    await writeFile(identityFile(dir), '{"broken');
    await expect(loadIdentity(dir)).rejects.toMatchObject({
      code: 'state_file_damaged', message: expect.stringMatching(/identity\.json is damaged .*enrol again \(--token\)/),
    });
    await writeFile(identityFile(dir), '');
    await expect(loadIdentity(dir)).rejects.toMatchObject({ code: 'state_file_damaged' });
    const other = path.join(dir, 'state.json');
    await writeFile(other, '{"cursor": 5}');
    await expect(readJson(other, z.object({ cursor: z.string() }))).rejects.toMatchObject({
      message: expect.stringMatching(/state\.json is damaged \(cursor: .*\)\..*move it aside/),
    });
  });
});
