import { describe, it, expect } from 'vitest';
import { serverStatus, OFFLINE_GRACE_MS } from './status';

describe('serverStatus', () => {
  it('a server that never polled is offline', () => expect(serverStatus(null, null, 1000)).toBe('offline'));
  it('stays online during its long-poll wait plus grace, then goes offline', () => {
    const seen = 1_000_000;
    expect(serverStatus(seen, 20, seen + 20_000 + OFFLINE_GRACE_MS)).toBe('online');
    expect(serverStatus(seen, 20, seen + 20_001 + OFFLINE_GRACE_MS)).toBe('offline');
  });
});
