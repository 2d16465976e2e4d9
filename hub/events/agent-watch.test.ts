import { describe, expect, it } from 'vitest';
import { livenessEdge, skewEdge } from './agent-watch';

describe('agent liveness and skew edges', () => {
  it('reports offline once and online only after a reported offline', () => {
    expect(livenessEdge(null, 'offline')).toBe('went_offline');
    expect(livenessEdge('agent.online', 'offline')).toBe('went_offline');
    expect(livenessEdge('agent.offline', 'offline')).toBeNull();
    expect(livenessEdge('agent.offline', 'online')).toBe('came_online');
    expect(livenessEdge(null, 'online')).toBeNull();
  });
  it('reports clock skew when it crosses the limit, and its recovery', () => {
    expect(skewEdge(null, 40_000, 30_000)).toBe('skewed');
    expect(skewEdge(40_000, -45_000, 30_000)).toBeNull();
    expect(skewEdge(40_000, 100, 30_000)).toBe('recovered');
    expect(skewEdge(null, 100, 30_000)).toBeNull();
  });
});
