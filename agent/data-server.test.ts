import { describe, it, expect } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataServer } from './data-server';
import { loadOrCreateTlsIdentity } from './tls';
import { createAgentLogger } from './log';

describe('data port', () => {
  it('never cuts off a request body that takes long (a large file over a slow or bandwidth-limited link)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tandem-data-server-'));
    const server = new DataServer(await loadOrCreateTlsIdentity(dir, 'test'), createAgentLogger('silent'));
    await server.listen(0, '127.0.0.1');
    try {
      // Node's default is 300 s for a whole request: a paced 32 MiB batch at 100 kB/s takes 335 s.
      expect(server.server!.requestTimeout).toBe(0);
      expect(server.server!.headersTimeout).toBeGreaterThan(0);
    } finally {
      await server.close();
      await fs.rm(dir, { recursive: true });
    }
  });
});
