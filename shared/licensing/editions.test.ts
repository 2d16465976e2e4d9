import { describe, it, expect } from 'vitest';
import { editionIssues, hostTier, EDITIONS } from './editions';

describe('edition gating', () => {
  it('classifies hosts by size; unknown sizes count as small', () => {
    expect(hostTier({})).toBe(1);
    expect(hostTier({ cpus: 4, memoryMB: 8192 })).toBe(1);
    expect(hostTier({ cpus: 8, memoryMB: 8192 })).toBe(2);
    expect(hostTier({ cpus: 128 })).toBe(4);
  });

  it('any edition covers a host within its size', () => {
    expect(editionIssues({ edition: 'foundation', hostTier: 1, role: 'source', jobType: 'files' })).toEqual([]);
    expect(editionIssues({ edition: 'standard', hostTier: 2, role: 'source', jobType: 'files' })).toEqual([]);
  });

  it('Foundation on a larger host: target only, only for Foundation sources, full-server only', () => {
    const big = { edition: 'foundation' as const, hostTier: 3 };
    expect(editionIssues({ ...big, role: 'target', jobType: 'full_server', peerEdition: 'foundation' })).toEqual([]);
    expect(editionIssues({ ...big, role: 'source', jobType: 'full_server', peerEdition: 'foundation' }).map((i) => i.code)).toEqual(['edition_role']);
    expect(editionIssues({ ...big, role: 'target', jobType: 'full_server', peerEdition: 'standard' }).map((i) => i.code)).toEqual(['edition_peer']);
    expect(editionIssues({ ...big, role: 'target', jobType: 'files', peerEdition: 'foundation' }).map((i) => i.code)).toEqual(['edition_job_type']);
  });

  it('other editions on a larger host are refused outright, and the rule is data', () => {
    expect(editionIssues({ edition: 'standard', hostTier: 3, role: 'target', jobType: 'files', peerEdition: 'standard' }).map((i) => i.code)).toEqual(['edition_host_too_large']);
    expect(EDITIONS.foundation.oversize).toEqual({ roles: ['target'], peerEditions: ['foundation'], jobTypes: ['full_server'] });
  });
});
